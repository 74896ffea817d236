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
alone, without its servers. `fixture_py_test` declares a py_test and its
wrapper in one call.
"""

FixtureServerInfo = provider(
    doc = "A server (or task) definition and everything it depends on.",
    fields = {
        "name": "the server's name in the graph (FIXTURE_<NAME>_*, {NAME.ENDPOINT})",
        "graph": "depset of text-format fixture.v1.ServerDefinition blocks (proto/spec.proto), deps first",
        "names": "depset of \"name label\" strings, to find two definitions of one name",
    },
)

def _quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

def _runfiles_path(file):
    # A runfiles path fixturectl finds: "pkg/bin" in the test's workspace,
    # "repo/pkg/bin" in another repository (short_path "../repo/pkg/bin").
    return file.short_path[3:] if file.short_path.startswith("../") else file.short_path

def _definition_impl(ctx):
    name = ctx.attr.server_name or ctx.label.name
    deps = [dep[FixtureServerInfo] for dep in ctx.attr.deps]
    lines = [
        "servers {",
        "  name: " + _quote(name),
        "  binary: " + _quote(_runfiles_path(ctx.executable.binary)),
    ]
    lines += ["  args: " + _quote(arg) for arg in ctx.attr.arguments]
    lines += ["  env { key: %s value: %s }" % (_quote(k), _quote(v)) for k, v in sorted(ctx.attr.env.items())]
    if ctx.attr.ready:
        lines.append("  ready: " + _quote(ctx.attr.ready))
    lines += ["  ports: " + _quote(port) for port in ctx.attr.ports]
    if ctx.attr.stop_signal:
        lines.append("  stop_signal: " + _quote(ctx.attr.stop_signal))
    if ctx.attr.socket_activation:
        lines.append("  socket_activation: true")
    lines += ["  deps: " + _quote(dep.name) for dep in deps]
    if ctx.attr.task:
        lines.append("  task: true")
    lines.append("}")
    runfiles = ctx.runfiles(files = [ctx.executable.binary])
    runfiles = runfiles.merge(ctx.attr.binary[DefaultInfo].default_runfiles)
    for dep in ctx.attr.deps:
        runfiles = runfiles.merge(dep[DefaultInfo].default_runfiles)
    return [
        FixtureServerInfo(
            name = name,
            graph = depset(["\n".join(lines)], transitive = [dep.graph for dep in deps], order = "postorder"),
            names = depset(["%s %s" % (name, ctx.label)], transitive = [dep.names for dep in deps]),
        ),
        DefaultInfo(runfiles = runfiles),
    ]

_DEFINITION_ATTRS = {
    "server_name": attr.string(),
    "binary": attr.label(mandatory = True, executable = True, cfg = "target"),
    "arguments": attr.string_list(),
    "env": attr.string_dict(),
    "ready": attr.string(),
    "ports": attr.string_list(),
    "stop_signal": attr.string(),
    "socket_activation": attr.bool(),
    "deps": attr.label_list(providers = [FixtureServerInfo]),
    "task": attr.bool(),
}

_fixture_definition = rule(implementation = _definition_impl, attrs = _DEFINITION_ATTRS)

def fixture_server(name, binary, args = [], env = {}, ready = "", ports = [], stop_signal = "", socket_activation = False, deps = [], server_name = "", **kwargs):
    """A server definition, once, for any fixture_test in the monorepo to list.

        fixture_server(
            name = "kv",
            binary = "//example:kv_server",
        )
        fixture_server(
            name = "frontend",
            binary = "//services/frontend:server",
            args = ["--backend={kv.grpc}"],   # kv's endpoint "grpc", once kv is ready
            deps = [":kv"],
        )
        fixture_test(name = "e2e_test", test = ":e2e_body", servers = [":frontend"])

    Args:
      name: the target's name, and the server's (FIXTURE_<NAME>_*), unless
        server_name is given.
      binary: the server binary's label.
      args: its arguments; "{port:NAME}", "{dir}" and "{DEP.ENDPOINT}" (the
        address of endpoint ENDPOINT of dep DEP) are replaced.
      env: {variable: value}, with the same placeholders.
      ready: how it tells it is ready, as fixturectl's --ready; "" for the
        launch protocol.
      ports: port names to reserve ({port:NAME}, endpoint NAME).
      stop_signal: for a server not ready by launch, e.g. "SIGINT".
      socket_activation: hand the ports over listening (LISTEN_FDS).
      deps: fixture_server and fixture_task targets that must be ready (or
        done) first. Started in dependency order, independent ones at once,
        stopped in reverse; a cycle is Bazel's build error naming it.
      server_name: the server's name, when not the target's.
      **kwargs: visibility, tags, testonly.
    """
    _fixture_definition(
        name = name,
        server_name = server_name,
        binary = binary,
        arguments = args,
        env = env,
        ready = ready,
        ports = ports,
        stop_signal = stop_signal,
        socket_activation = socket_activation,
        deps = deps,
        **kwargs
    )

def fixture_task(name, binary, args = [], env = {}, deps = [], server_name = "", **kwargs):
    """A one-shot task in the server graph: a migration, seeding, a config.

    It runs once its deps are ready, must exit 0 within the ready timeout,
    and runs before its dependents start; it gets the environment the test
    gets, for its deps and theirs (FIXTURE_<NAME>_<ENDPOINT>). Its
    failure fails the test with its exit status and the tail of its output.
    Arguments as for fixture_server.
    """
    fixture_server(
        name = name,
        binary = binary,
        args = args,
        env = env,
        deps = deps,
        server_name = server_name,
        task = True,
        **kwargs
    )

def _write_spec(ctx):
    """The spec file of ctx.attr.servers' graph, and its runfiles (the binaries)."""
    infos = [server[FixtureServerInfo] for server in ctx.attr.servers]
    by_name = {}
    for entry in depset(transitive = [info.names for info in infos]).to_list():
        server_name, label = entry.split(" ", 1)
        if server_name in by_name and by_name[server_name] != label:
            fail("two servers named \"%s\" in %s: %s and %s; give one a server_name" %
                 (server_name, ctx.label, by_name[server_name], label))
        by_name[server_name] = label
    blocks = depset(transitive = [info.graph for info in infos], order = "postorder").to_list()
    spec = ctx.actions.declare_file(ctx.label.name + ".spec")
    ctx.actions.write(spec, "# fixture.v1.Spec (proto/spec.proto), written by fixture_test.\n" + "\n".join(blocks) + "\n")
    runfiles = ctx.runfiles(files = [spec])
    for server in ctx.attr.servers:
        runfiles = runfiles.merge(server[DefaultInfo].default_runfiles)
    return spec, runfiles

def _spec_impl(ctx):
    spec, runfiles = _write_spec(ctx)
    return [DefaultInfo(files = depset([spec]), runfiles = runfiles)]

_fixture_spec = rule(
    implementation = _spec_impl,
    attrs = {"servers": attr.label_list(providers = [FixtureServerInfo])},
)

def _env_impl(ctx):
    spec, runfiles = _write_spec(ctx)
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.expand_template(
        template = ctx.file._runner,
        output = script,
        # Paths from the runfiles directory of the main workspace (bazel
        # run's working directory): "../repo/..." for another repository's.
        substitutions = {
            "@FIXTURECTL@": ctx.executable._fixturectl.short_path,
            "@SPEC@": spec.short_path,
        },
        is_executable = True,
    )
    runfiles = runfiles.merge(ctx.runfiles(files = [ctx.executable._fixturectl]))
    runfiles = runfiles.merge(ctx.attr._fixturectl[DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

_fixture_env = rule(
    implementation = _env_impl,
    executable = True,
    attrs = {
        "servers": attr.label_list(providers = [FixtureServerInfo]),
        "_fixturectl": attr.label(default = Label("//tools:fixturectl"), executable = True, cfg = "target"),
        "_runner": attr.label(default = Label("//tools:fixture_env_runner.sh"), allow_single_file = True),
    },
)

def fixture_env(name, servers, **kwargs):
    """`bazel run` of it brings a server graph up and keeps it up.

        fixture_env(name = "dev", servers = ["//services:frontend"])

        $ bazel run //services:dev
        fixture_env: kv      control unix:/tmp/fixture-Ab12Cd/control.sock  pid 4242
        fixture_env: kv      grpc    127.0.0.1:41234
        ...
        fixture_env: up; Ctrl-C or SIGTERM stops everything.

    It prints each server's control socket, pid and endpoints, and stops
    every server (in reverse order) on Ctrl-C, SIGTERM or SIGHUP. Arguments
    after `--` go to fixturectl run (e.g. --ready_timeout=30s).

    Args:
      name: the binary's name.
      servers: fixture_server targets; their deps come up first.
      **kwargs: visibility, tags, testonly (needed if a server is testonly).
    """
    _fixture_env(name = name, servers = servers, **kwargs)

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
      servers: [fixture_server targets] (the graph they and their deps
        form, as one spec file), or {name: label of a server binary, or an
        absolute path of one on the machine, such as
        "/usr/bin/redis-server"} with the server_* dicts below.
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
    args = ["$(rootpath %s)" % fixturectl, "run", "--junit"]
    data = [fixturectl, test]
    if type(servers) == "list":
        # fixture_server targets: the graph, as one spec file.
        _fixture_spec(name = name + "_servers", servers = servers, testonly = True)
        args.append("--spec=$(rootpath :%s_servers)" % name)
        data.append(":%s_servers" % name)
        servers = {}
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

def fixture_py_test(name, srcs, servers, deps = [], main = None, **kwargs):
    """A py_test run with `servers` up: `fixture_test` around a py_test.

    Declares py_test `name + "_body"` (tags "manual": it runs only inside
    the wrapper) from `srcs`, `main` and `deps`, and fixture_test `name`
    that runs it.

        fixture_py_test(
            name = "kv_client_test",
            srcs = ["kv_client_test.py"],
            servers = {"kv": "//example:kv_server"},
            deps = ["//tools/python:fixture_client"],
        )

    Args:
      name: the test's name.
      srcs: the Python sources; the first is the main unless `main` says.
      servers: as fixture_test's.
      deps: the py_test's deps.
      main: the main source, if not srcs[0].
      **kwargs: fixture_test's (server_args, ready_timeout, size, tags, ...).
    """
    native.py_test(
        name = name + "_body",
        srcs = srcs,
        main = main or srcs[0],
        deps = deps,
        tags = ["manual"],
        testonly = True,
        visibility = ["//visibility:private"],
    )
    fixture_test(name = name, test = ":%s_body" % name, servers = servers, **kwargs)
