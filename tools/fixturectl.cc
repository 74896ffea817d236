// fixturectl: fixture servers from the shell, and for tests in any language.
//
//   fixturectl run --server=PATH [--name=NAME] [--arg=ARG]... [--ready=...] [--port=NAME]... [--server=...] -- CMD
//   fixturectl status     --control=ADDR [--json]
//   fixturectl wait-ready --control=ADDR [--timeout=10s]
//   fixturectl shutdown   --control=ADDR [--grace=200ms] [--drain=0s] [--timeout=10s]
//   fixturectl watch      --control=ADDR
//   fixturectl fault      --control=ADDR --method=/pkg.Svc/Put --code=UNAVAILABLE [--delay=50ms]
//                         [--rate=0.3 --seed=N | --count=N]
//   fixturectl faults     --control=ADDR [--json]
//   fixturectl clear-faults --control=ADDR [--id=N]
//   fixturectl drop-connections --control=ADDR [--refuse_for=2s]
//   fixturectl reset      --control=ADDR
//   fixturectl restart|kill|pause|resume NAME [--signal=SIGTERM] [--supervisor=ADDR]
//
// `run` is the seed's "start the server, run the tests, SIGINT it" as one
// command (fixturectl_run.h); the others talk to a running server's control
// socket (fixturectl_control.h). The command line is read by
// fixturectl_flags.h, the exit statuses are fixturectl_exit_codes.h; kUsage
// below is what users see of all of it.
#include <stdio.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "fixture/tools/fixturectl_control.h"
#include "fixture/tools/fixturectl_exit_codes.h"
#include "fixture/tools/fixturectl_flags.h"
#include "fixture/tools/fixturectl_run.h"
#include "fixture/tools/fixturectl_supervise.h"

namespace {

constexpr char kUsage[] = R"(fixturectl: fixture servers from the shell.

Usage:
  fixturectl run --server=PATH [--name=NAME] [--arg=ARG]... [--env=K=V]... [--port=NAME]...
                 [--ready=launch] [--stop_signal=SIGTERM] [--socket_activation] [--server=PATH ...]
                 [--spec=FILE] [--ready_timeout=10s] [--grace=200ms] [--kill_after=3s]
                 [--log_dir=DIR] [--junit] -- CMD [ARGS...]
      Starts every server (all at once), waits until each is ready, runs CMD, stops
      the servers when CMD ends, and exits with CMD's status. CMD's environment is
      fixturectl's, without the variables below from an enclosing run (and without
      FIXTURE_CONTROL_ADDRESS, FIXTURE_READY_FD, FIXTURE_NAME), plus:
        FIXTURE_SERVERS               the server names, space-separated
        FIXTURE_SUPERVISOR            the supervisor socket: `fixturectl restart NAME`
                                      and the like (below) reach the servers by name
        FIXTURE_CONTROL               control address of the first server
        FIXTURE_<NAME>_CONTROL        control address of server NAME (unix:/path)
        FIXTURE_<NAME>_PID            its pid
        FIXTURE_<NAME>_<ENDPOINT>     address of its endpoint ENDPOINT, e.g.
                                      FIXTURE_KV_GRPC=127.0.0.1:41234
        TEST_TIMEOUT                  under `bazel test`: the seconds left after
                                      the servers' start
      The flags after a --server are its own. --ready says how it tells it is ready:
        launch (the default: servers built on fixture's server/ library, attached
        with server::Attach() or the Python module), sd_notify (READY=1 on
        NOTIFY_SOCKET), grpc_health[:ENDPOINT[/SERVICE]], log:REGEX (a line of its
        stdout or stderr), and, polled: tcp:ENDPOINT, http:ENDPOINT[/PATH], exec:CMD.
      --port=NAME=PORT fixes a port: NAME in the server's --port list (or any NAME of
      a foreign server) is reserved at PORT; any other NAME is an endpoint of a
      server on the launch protocol, bound at PORT (FIXTURE_ENDPOINT_PORTS). Before
      any --server (with --spec: fixture_env's `bazel run :dev -- --port=...`),
      write --port=SERVER.NAME=PORT.
      --port=NAME reserves a port; {port:NAME} in --arg and --env values is its
        number, {dir} the server's private directory; it is endpoint NAME.
        With --socket_activation the server gets the ports' sockets listening, as
        systemd hands them (fds 3, 4, ...; LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES).
      A server ready by another way than launch gets a control socket served by
        fixturectl, and is stopped by --stop_signal (default SIGTERM), then SIGINT,
        then SIGKILL.
      --spec=FILE adds the servers and one-shot tasks of a spec file (proto/spec.proto,
        text format; fixture_test writes it from fixture_server rules): started in
        dependency order (independent ones at once, a task once its deps are up,
        before its dependents), "{DEP.ENDPOINT}" in args and env values replaced by
        the dep's address, stopped in reverse order. A task that does not exit 0
        within --ready_timeout fails the start (exit 70); a cycle is exit 64.
      --junit (fixture_test sets it) writes Bazel's XML_OUTPUT_FILE: a test case for
        each server's start and stop (failed, with the reason, when one went wrong),
        then the cases CMD wrote to its own XML_OUTPUT_FILE (GTEST_OUTPUT points there).
      With FIXTURE_<NAME>_ATTACH set, server NAME is not started: CMD runs against the
        one already running there (a control address unix:/path, whose GetStatus gives
        its pid and endpoints; or ADDRESS, or ENDPOINT=ADDRESS[,...]); nothing is
        stopped for it. Nobody answering at a control address is exit 69.
      NAME and ENDPOINT are upper-cased, other characters than A-Z0-9 become _; an
      endpoint named "control" or "pid" is refused (exit 70).
      SIGINT, SIGTERM, SIGHUP or SIGQUIT during the start aborts it at once: the
      servers are stopped, CMD does not run, the exit status is 128+N. CMD runs in
      a process group of its own (the terminal's foreground group, if fixturectl
      had it); a signal fixturectl gets is forwarded to that group, and if CMD has
      not exited --kill_after later, the group gets SIGKILL (exit status 128+N).
      fixturectl is a child subreaper: whatever the servers or CMD leave running
      is ended (SIGTERM, --kill_after, SIGKILL) and reaped before it exits.
      It needs 26 free file descriptors (ulimit -n) for one server, 6 more for
      each other one, and 13 threads (ulimit -u) plus one per server.
  fixturectl status --control=ADDR [--json]       print the server's status
  fixturectl wait-ready --control=ADDR [--timeout=10s]
  fixturectl shutdown --control=ADDR [--grace=200ms] [--drain=0s] [--timeout=10s]
      stop the server gracefully and wait (up to --timeout after the drain) until it
      is gone; with --drain it first says NOT_SERVING (health) and DRAINING while it
      still takes new calls for that long
  fixturectl watch --control=ADDR                 print each state change
  fixturectl fault --control=ADDR --method=/pkg.Svc/Method [--code=UNAVAILABLE] [--message=TEXT]
                   [--delay=50ms] [--rate=0.3 [--seed=N] | --count=N] [--metadata=KEY=VALUE]
      make the server under test fail (--code) and/or delay (--delay) the calls of a
      method (or of every method whose name starts with the prefix before a final *)
      before their handler runs: a --rate of them (drawn from --seed), the next
      --count, or every one; only calls with the --metadata, if given. Prints
      "fault ID". Unary and server-streaming methods of synchronous services only.
  fixturectl faults --control=ADDR [--json]        list the faults, with their hits
  fixturectl clear-faults --control=ADDR [--id=ID] remove fault ID, or all faults (and a
      drop-connections refusal)
  fixturectl drop-connections --control=ADDR [--refuse_for=DURATION]
      close every connection clients opened to the server under test (their calls in
      flight fail UNAVAILABLE, their channels reconnect); with --refuse_for, for that
      long, close the connection of every call that arrives, so none gets through.
      Prints "closed N".
  fixturectl reset --control=ADDR                 make the server fresh for the next test: run
      its reset hook (ServerSetup::OnReset), then clear its call counts and faults
  fixturectl restart NAME [--supervisor=ADDR]     inside `run`'s CMD: end server NAME and start
      a new process on the same addresses (control socket, --port ports, and the
      port-0 endpoints of a server built on server/); prints its new pid, as
      FIXTURE_<NAME>_PID is then stale. Exit 70 if the new process did not start.
  fixturectl kill NAME [--signal=SIGKILL]         send a signal to server NAME, as a crash would;
      its exit is not a failure of the run (restart brings it back)
  fixturectl pause NAME / resume NAME             SIGSTOP (a server that hangs: returns once it
      has stopped) / SIGCONT
      --supervisor defaults to $FIXTURE_SUPERVISOR, which `run` sets for CMD.

Exit status: 0 success (run: CMD's status; 128+N if CMD died of signal N),
  64 bad usage (and a fault the server refuses), 66 server binary missing, 67 no
  fault with that id, 69 nobody answers on the control address,
  70 a server failed to start (or too few file descriptors or threads), 71 a server
  died while CMD ran, 75 timeout, 126 CMD cannot be executed, 127 CMD (or its #!
  interpreter) not found, 128+N signal N before CMD ran, 1 other errors.
)";

}  // namespace

// Parses the command line and runs its command; its exit status is
// fixturectl's.
int main(int argc, char** argv) {
  using fixturectl::Fail;
  absl::StatusOr<fixturectl::CommandLine> line = fixturectl::Parse(argc, argv);
  if (!line.ok()) {
    return Fail(fixturectl::kExitUsage, absl::StrCat(line.status().message(), " (see fixturectl --help)"));
  }
  if (line->command == "help") {
    fputs(kUsage, stdout);
    return 0;
  }
  if (line->command == "run") return fixturectl::Run(*line);
  if (fixturectl::IsControlCommand(line->command)) return fixturectl::RunControlCommand(*line);
  if (fixturectl::IsSupervisorCommand(line->command)) return fixturectl::RunSupervisorCommand(*line);
  return Fail(fixturectl::kExitUsage, absl::StrCat("unknown command \"", line->command, "\" (see fixturectl --help)"));
}
