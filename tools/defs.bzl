"""fixture_test: run an existing test with fixture servers up.

    load("//tools:defs.bzl", "fixture_test")

    py_test(
        name = "kv_client_test_body",
        srcs = ["kv_client_test.py"],
        tags = ["manual"],   # runs only inside the wrapper, where the servers are
        deps = [...],
    )

    fixture_test(
        name = "kv_client_test",
        test = ":kv_client_test_body",
        servers = {"kv": "//example:kv_server"},
        server_args = {"kv": ["--label=suite=python"]},
    )

The wrapper is an sh_test that runs `fixturectl run`: it starts every server
(a fresh one per test run, on port 0 and a private Unix socket, so
--runs_per_test, sharding and parallel jobs never collide and a sandbox
without network works), waits until each is ready, runs the wrapped test with
the servers' addresses in its environment (FIXTURE_CONTROL,
FIXTURE_<NAME>_CONTROL, FIXTURE_<NAME>_<ENDPOINT>, FIXTURE_<NAME>_PID; see
`fixturectl --help`), stops the servers and passes the test's status on. A
server that dies while the test runs fails the test with its reason.

The wrapped target is any executable test or binary (cc_test, py_test,
sh_test, ...); tag it "manual" so that `bazel test //...` does not also run it
alone, without its servers.
"""

def fixture_test(
        name,
        test,
        servers,
        server_args = {},
        server_ready = {},
        server_ports = {},
        server_env = {},
        server_stop_signal = {},
        server_socket_activation = [],
        ready_timeout = "10s",  # launch/defaults.h: kDefaultReadyTimeout
        grace = "200ms",  # launch/defaults.h: kDefaultGrace
        **kwargs):
    """Declares sh_test `name` that runs `test` with `servers` up.

    Args:
      name: the test's name.
      test: the label of the wrapped test (or binary).
      servers: {name: label of a server binary, or an absolute path of one
        on the machine, such as "/usr/bin/redis-server"}.
      server_args: {name: [arguments for that server]}; "{port:NAME}" and
        "{dir}" are replaced (see `fixturectl --help`).
      server_ready: {name: how it tells it is ready}, as fixturectl's --ready
        ("sd_notify", "log:REGEX", "http:web/healthz", ...); default "launch".
      server_ports: {name: [port names to reserve]}.
      server_env: {name: {variable: value}}.
      server_stop_signal: {name: "SIGTERM"}, for a server not ready by launch.
      server_socket_activation: [names of servers that get their
        server_ports as listening sockets by socket activation].
      ready_timeout: how long each server may take to become ready.
      grace: grace period for in-flight RPCs when the servers stop.
      **kwargs: passed to the sh_test (size, timeout, tags, shard_count, ...).
    """

    # Label(): this repository's fixturectl and runner, whatever name the
    # consumer's WORKSPACE gives it, never a //tools of the calling one.
    fixturectl = str(Label("//tools:fixturectl"))
    args = ["$(rootpath %s)" % fixturectl, "run"]
    data = [fixturectl, test]
    for server_name, binary in servers.items():
        if binary.startswith("/") and not binary.startswith("//"):
            args.append("--server=" + binary)
        else:
            args.append("--server=$(rootpath %s)" % binary)
            data.append(binary)
        args.append("--name=" + server_name)
        for arg in server_args.get(server_name, []):
            args.append("--arg=" + arg)
        if server_name in server_ready:
            args.append("--ready=" + server_ready[server_name])
        for port in server_ports.get(server_name, []):
            args.append("--port=" + port)
        for key, value in server_env.get(server_name, {}).items():
            args.append("--env=%s=%s" % (key, value))
        if server_name in server_stop_signal:
            args.append("--stop_signal=" + server_stop_signal[server_name])
        if server_name in server_socket_activation:
            args.append("--socket_activation")
    args += [
        "--ready_timeout=" + ready_timeout,
        "--grace=" + grace,
        "--",
        "$(rootpath %s)" % test,
    ]
    native.sh_test(
        name = name,
        srcs = [str(Label("//tools:fixture_test_runner.sh"))],
        args = args + kwargs.pop("args", []),
        data = data + kwargs.pop("data", []),
        **kwargs
    )
