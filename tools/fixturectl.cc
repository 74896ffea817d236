// fixturectl: fixture servers from the shell, and for tests in any language.
//
//   fixturectl run --server=PATH [--name=NAME] [--arg=ARG]... [--server=...] -- CMD [ARGS...]
//   fixturectl status     --control=ADDR [--json]
//   fixturectl wait-ready --control=ADDR [--timeout=10s]
//   fixturectl shutdown   --control=ADDR [--grace=200ms] [--timeout=10s]
//   fixturectl watch      --control=ADDR
//
// `run` is the seed's "start the server, run the tests, SIGINT it" as one
// command: it starts every server, waits until each is ready, runs CMD with
// the servers' addresses in its environment, stops the servers when CMD ends
// and exits with CMD's status. See Usage() for the environment and the exit
// codes.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/child_process.h"
#include "launch/deadline.h"
#include "fixture/fixture.h"
#include "launch/proto_time.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "proto/control.grpc.pb.h"

ABSL_FLAG(std::string, server, "", "run: a server binary to start (repeatable; --name and --arg after it apply to it).");
ABSL_FLAG(std::string, name, "", "run: the name of the preceding --server (default: its file name).");
ABSL_FLAG(std::string, arg, "", "run: an argument for the preceding --server (repeatable).");
ABSL_FLAG(absl::Duration, ready_timeout, absl::Seconds(10), "run: how long each server may take to be ready.");
ABSL_FLAG(absl::Duration, grace, absl::Milliseconds(200), "run, shutdown: grace period for in-flight RPCs.");
ABSL_FLAG(std::string, log_dir, "", "run: keep the servers' stdout/stderr here (default: TEST_UNDECLARED_OUTPUTS_DIR).");
ABSL_FLAG(std::string, control, "", "status, wait-ready, shutdown, watch: the control address (unix:/path).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "status, wait-ready, shutdown: how long to wait.");
ABSL_FLAG(bool, json, false, "status: print JSON instead of text.");

extern char** environ;

namespace {

// Exit statuses (sysexits.h where one fits).
constexpr int kExitUsage = 64;           // Bad command line.
constexpr int kExitNoServerBinary = 66;  // A --server binary does not exist or is not executable.
constexpr int kExitUnavailable = 69;     // Nobody answers on the control address.
constexpr int kExitServerFailed = 70;    // A server failed to start (crash, exec failure).
constexpr int kExitServerCrashed = 71;   // A server died while CMD ran (and CMD itself succeeded).
constexpr int kExitTimeout = 75;         // Not ready / no answer within the timeout.
constexpr int kExitOther = 1;            // Any other failure (the message says what).
constexpr int kExitCannotRun = 126;      // CMD found but cannot be executed.
constexpr int kExitNoCommand = 127;      // CMD not found (or its #! interpreter is missing).

constexpr char kUsage[] = R"(fixturectl: fixture servers from the shell.

Usage:
  fixturectl run --server=PATH [--name=NAME] [--arg=ARG]... [--server=PATH ...]
                 [--ready_timeout=10s] [--grace=200ms] [--log_dir=DIR] -- CMD [ARGS...]
      Starts every server, waits until each is ready, runs CMD, stops the servers
      when CMD ends, and exits with CMD's status. CMD's environment has:
        FIXTURE_SERVERS               the server names, space-separated
        FIXTURE_CONTROL               control address of the first server
        FIXTURE_<NAME>_CONTROL        control address of server NAME (unix:/path)
        FIXTURE_<NAME>_PID            its pid
        FIXTURE_<NAME>_<ENDPOINT>     address of its endpoint ENDPOINT, e.g.
                                      FIXTURE_KV_GRPC=127.0.0.1:41234
      NAME and ENDPOINT are upper-cased, other characters than A-Z0-9 become _.
  fixturectl status --control=ADDR [--json]       print the server's status
  fixturectl wait-ready --control=ADDR [--timeout=10s]
  fixturectl shutdown --control=ADDR [--grace=200ms] [--timeout=10s]
      stop the server gracefully and wait (up to --timeout) until it is gone
  fixturectl watch --control=ADDR                 print each state change

Exit status: 0 success (run: CMD's status; 128+N if CMD died of signal N),
  64 bad usage, 66 server binary missing, 69 nobody answers on the control address,
  70 a server failed to start, 71 a server died while CMD ran, 75 timeout,
  126 CMD cannot be executed, 127 CMD (or its #! interpreter) not found, 1 other errors.
)";

struct ServerSpec {
  std::string binary;
  std::string name;
  std::vector<std::string> args;
};

struct CommandLine {
  std::string command;
  std::vector<ServerSpec> servers;
  std::vector<std::string> cmd;  // After "--".
};

int Fail(int code, const std::string& message) {
  fprintf(stderr, "fixturectl: %s\n", message.c_str());
  return code;
}

// Parses argv: the command, the ordered --server groups, the absl flags (set
// through absl's reflection, so every value is checked by its flag's type),
// and CMD after "--". InvalidArgument with the reason for anything wrong.
absl::StatusOr<CommandLine> Parse(int argc, char** argv) {
  CommandLine line;
  int i = 1;
  for (; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      line.cmd.assign(argv + i + 1, argv + argc);
      break;
    }
    if (!absl::StartsWith(arg, "-")) {
      if (!line.command.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\" (CMD goes after --)"));
      }
      line.command = std::string(arg);
      continue;
    }
    absl::string_view flag = arg;
    absl::ConsumePrefix(&flag, "-");
    absl::ConsumePrefix(&flag, "-");
    std::string name(flag.substr(0, flag.find('=')));
    std::optional<std::string> value;
    if (flag.find('=') != absl::string_view::npos) value = std::string(flag.substr(flag.find('=') + 1));
    if (name == "help" || name == "h") {
      line.command = "help";
      return line;
    }
    absl::CommandLineFlag* found = absl::FindCommandLineFlag(name);
    bool negated = false;
    if (found == nullptr && absl::StartsWith(name, "no")) {
      found = absl::FindCommandLineFlag(name.substr(2));
      negated = found != nullptr && found->IsOfType<bool>() && !value.has_value();
      if (!negated) found = nullptr;
    }
    if (found == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!value.has_value()) {
      if (found->IsOfType<bool>()) {
        value = negated ? "false" : "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    std::string flag_name(found->Name());
    if (flag_name == "server") {
      if (value->empty()) return absl::InvalidArgumentError("--server needs a path");
      line.servers.push_back({*value, "", {}});
      continue;
    }
    if (flag_name == "name" || flag_name == "arg") {
      if (line.servers.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag_name, " before any --server"));
      if (flag_name == "name") line.servers.back().name = *value;
      if (flag_name == "arg") line.servers.back().args.push_back(*value);
      continue;
    }
    std::string error;
    if (!found->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag_name, "=", *value, ": ", error));
    }
  }
  if (line.command.empty()) return absl::InvalidArgumentError("no command (run, status, wait-ready, shutdown, watch)");
  if (line.command != "run" && (!line.servers.empty() || !line.cmd.empty())) {
    return absl::InvalidArgumentError(absl::StrCat("--server and -- CMD belong to `run`, not `", line.command, "`"));
  }
  return line;
}

// "kv-server.1" -> "KV_SERVER_1".
std::string EnvName(absl::string_view name) {
  std::string out(name);
  for (char& c : out) c = absl::ascii_isalnum(static_cast<unsigned char>(c)) ? absl::ascii_toupper(c) : '_';
  return out;
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// CMD's executable: as given if it has a '/', else searched in PATH.
std::optional<std::string> FindCommand(const std::string& command) {
  if (command.find('/') != std::string::npos) {
    return access(command.c_str(), X_OK) == 0 ? std::optional<std::string>(command) : std::nullopt;
  }
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", command);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

int ExitCodeForStartFailure(const absl::Status& status) {
  if (absl::StartsWith(status.message(), "FixtureOptions.binary:") &&
      (status.code() == absl::StatusCode::kNotFound || status.code() == absl::StatusCode::kPermissionDenied)) {
    return kExitNoServerBinary;
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    case absl::StatusCode::kDeadlineExceeded:
      return kExitTimeout;
    default:
      return kExitServerFailed;
  }
}

int Run(const CommandLine& line) {
  if (line.servers.empty()) return Fail(kExitUsage, "run needs at least one --server=PATH (see --help)");
  if (line.cmd.empty()) return Fail(kExitUsage, "run needs a command after -- (see --help)");

  // Signals for CMD are forwarded to it; fixturectl itself stops the servers
  // when CMD is done, so it must not die of them first.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&forwarded, sig);
  sigset_t saved_mask;
  pthread_sigmask(SIG_BLOCK, &forwarded, &saved_mask);
  fixture::UniqueFd signals(signalfd(-1, &forwarded, SFD_CLOEXEC));

  // Names must give distinct variable names; the caller's own FIXTURE_*
  // variables (from an enclosing run) would be ambiguous: not passed on.
  std::vector<std::string> names, keys;
  for (const ServerSpec& spec : line.servers) {
    names.push_back(spec.name.empty() ? BaseName(spec.binary) : spec.name);
    std::string key = EnvName(names.back());
    for (size_t i = 0; i + 1 < names.size(); ++i) {
      if (keys[i] == key) {
        return Fail(kExitUsage, absl::StrCat("servers \"", names[i], "\" and \"", names.back(),
                                             "\" both give FIXTURE_", key, "_*; give each a distinct --name"));
      }
    }
    keys.push_back(key);
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "FIXTURE_")) env.emplace_back(*e);
  }
  std::vector<fixture::Fixture> fixtures;
  for (size_t i = 0; i < line.servers.size(); ++i) {
    const ServerSpec& spec = line.servers[i];
    fixture::FixtureOptions options;
    options.name = names[i];
    options.program = fixture::Binary{spec}.binary;
    options.args = spec.args;
    options.ready_timeout = absl::GetFlag(FLAGS_ready_timeout);
    options.stop.grace = absl::GetFlag(FLAGS_grace);
    options.log_dir = absl::GetFlag(FLAGS_log_dir);
    absl::StatusOr<fixture::Fixture> started = fixture::Fixture::Start(options);
    if (!started.ok()) {
      return Fail(ExitCodeForStartFailure(started.status()),
                  absl::StrCat("server \"", options.name, "\" did not start: ", started.status().message()));
    }
    const std::string& key = keys[i];
    if (fixtures.empty()) env.push_back(absl::StrCat("FIXTURE_CONTROL=", started->control_address()));
    env.push_back(absl::StrCat("FIXTURE_", key, "_CONTROL=", started->control_address()));
    env.push_back(absl::StrCat("FIXTURE_", key, "_PID=", started->pid()));
    for (const auto& endpoint : started->endpoints()) {
      env.push_back(absl::StrCat("FIXTURE_", key, "_", EnvName(endpoint.name()), "=", endpoint.address()));
    }
    fixtures.push_back(*std::move(started));
  }
  env.push_back(absl::StrCat("FIXTURE_SERVERS=", absl::StrJoin(names, " ")));

  std::optional<std::string> command = FindCommand(line.cmd[0]);
  if (!command.has_value()) return Fail(kExitNoCommand, absl::StrCat(line.cmd[0], ": command not found"));
  fixture::LaunchSpec spec;
  spec.path = *command;
  spec.argv = line.cmd;
  spec.env = env;
  spec.stdin_fd = 0;
  spec.stdout_fd = 1;
  spec.stderr_fd = 2;
  absl::StatusOr<fixture::ChildProcess> cmd = fixture::ChildProcess::Spawn(spec);
  if (!cmd.ok()) {
    // The servers are stopped on the way out. ENOENT for a file that exists:
    // the interpreter its #! line names does not.
    bool missing = absl::IsNotFound(cmd.status());
    return Fail(missing ? kExitNoCommand : kExitCannotRun,
                absl::StrCat("cannot run ", line.cmd[0], ": ", cmd.status().message(),
                             missing ? " (is the interpreter on its #! line installed?)" : ""));
  }

  // Wait for CMD; note every server that dies meanwhile.
  std::vector<bool> died(fixtures.size(), false);
  std::string crashes;
  int got_signal = 0;
  for (;;) {
    std::vector<struct pollfd> fds = {{cmd->pidfd(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    for (size_t i = 0; i < fixtures.size(); ++i) fds.push_back({died[i] ? -1 : fixtures[i].exit_fd(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return Fail(kExitOther, "poll failed");
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      if (read(signals.get(), &info, sizeof info) == sizeof info) {
        got_signal = static_cast<int>(info.ssi_signo);
        // A terminal's Ctrl-C (SI_KERNEL) reached CMD and the servers too, as
        // they share our process group; a kill(2) may have been for us alone.
        if (info.ssi_code != SI_KERNEL) cmd->Signal(got_signal).IgnoreError();
      }
    }
    for (size_t i = 0; i < fixtures.size(); ++i) {
      if (died[i] || !(fds[i + 2].revents & POLLIN)) continue;
      died[i] = true;
      absl::Status running = fixtures[i].CheckRunning();
      absl::StatusOr<fixture::StopResult> ended = fixtures[i].Stop();  // Reaps it.
      if (ended.ok() && ended->exit.success()) {
        fprintf(stderr, "fixturectl: server \"%s\" exited with status 0 while %s ran (%s)\n",
                fixtures[i].name().c_str(), line.cmd[0].c_str(),
                got_signal != 0 ? absl::StrCat("stopped by the SIG", sigabbrev_np(got_signal), " fixturectl got too").c_str()
                                : "a control Shutdown from the command?");
        continue;
      }
      absl::StrAppend(&crashes, "\n", running.message());
      fprintf(stderr, "fixturectl: while %s ran, %s\n", line.cmd[0].c_str(), std::string(running.message()).c_str());
    }
    if (fds[0].revents & POLLIN) break;
  }
  absl::StatusOr<std::optional<fixture::ExitInfo>> cmd_exit = cmd->WaitUntil(absl::InfiniteFuture());
  for (size_t i = 0; i < fixtures.size(); ++i) {
    fixture::Fixture& f = fixtures[i];
    absl::Status running = died[i] ? absl::OkStatus() : f.CheckRunning();
    absl::StatusOr<fixture::StopResult> stopped = f.Stop();
    if (!running.ok() && stopped.ok() && !stopped->exit.success()) {  // Died as CMD ended.
      absl::StrAppend(&crashes, "\n", running.message());
      continue;
    }
    if (!stopped.ok()) {
      fprintf(stderr, "fixturectl: stopping \"%s\": %s\n", f.name().c_str(), stopped.status().ToString().c_str());
    } else if (!stopped->clean() && stopped->stage != fixture::StopStage::kAlreadyExited) {
      fprintf(stderr, "fixturectl: \"%s\" did not stop cleanly: %s\n", f.name().c_str(), stopped->ToString().c_str());
    }
  }
  pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
  if (!cmd_exit.ok() || !cmd_exit->has_value()) return Fail(kExitOther, "lost track of CMD");
  const fixture::ExitInfo& exit = **cmd_exit;
  if (exit.signaled) return 128 + exit.signal;
  if (exit.code != 0) return exit.code;
  if (!crashes.empty()) {
    return Fail(kExitServerCrashed, absl::StrCat(line.cmd[0], " succeeded, but a server died while it ran:", crashes));
  }
  return 0;
}

// --- Control commands ---------------------------------------------------------------

struct Control {
  std::string address;
  std::unique_ptr<fixture::v1::FixtureControl::Stub> stub;
};

// Checks --control and connects. A unix socket that does not exist is
// reported before any RPC.
absl::StatusOr<Control> Connect() {
  std::string address = absl::GetFlag(FLAGS_control);
  if (address.empty()) return absl::InvalidArgumentError("--control=ADDR is required (e.g. unix:/tmp/fixture-x/control.sock)");
  absl::string_view path = address;
  if (absl::ConsumePrefix(&path, "unix://") || absl::ConsumePrefix(&path, "unix:")) {
    struct stat st;
    if (stat(std::string(path).c_str(), &st) != 0) {
      int error = errno;
      return absl::UnavailableError(absl::StrCat("nobody listens on ", address, ": ", std::string(path), ": ",
                                                 strerror(error), " (is the server running?)"));
    }
  }
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return Control{address, fixture::v1::FixtureControl::NewStub(channel)};
}

int RpcFailure(const Control& control, absl::string_view call, const grpc::Status& status) {
  int code = kExitOther;
  std::string hint;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    code = kExitUnavailable;
    hint = " (is the server running, and is this its control address?)";
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    code = kExitTimeout;
  }
  return Fail(code, absl::StrCat(call, " on ", control.address, " failed: ", status.error_message(), hint));
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

int ConnectFailure(const absl::Status& status) {
  return Fail(status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitUnavailable,
              std::string(status.message()));
}

int Status() {
  absl::StatusOr<Control> control = Connect();
  if (!control.ok()) return ConnectFailure(control.status());
  grpc::ClientContext context;
  SetDeadline(&context, absl::GetFlag(FLAGS_timeout));
  fixture::v1::Status status;
  grpc::Status rpc = control->stub->GetStatus(&context, fixture::v1::GetStatusRequest(), &status);
  if (!rpc.ok()) return RpcFailure(*control, "GetStatus", rpc);
  std::string out;
  if (absl::GetFlag(FLAGS_json)) {
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(status, &out, options);
  } else {
    google::protobuf::TextFormat::PrintToString(status, &out);
  }
  fputs(out.c_str(), stdout);
  return 0;
}

int WaitReady() {
  absl::StatusOr<Control> control = Connect();
  if (!control.ok()) return ConnectFailure(control.status());
  absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  context.set_wait_for_ready(true);  // The socket exists; the server may still be binding.
  fixture::v1::WaitReadyRequest request;
  *request.mutable_timeout() = fixture::ToProtoDuration(timeout);
  fixture::v1::WaitReadyResponse response;
  grpc::Status rpc = control->stub->WaitReady(&context, request, &response);
  if (!rpc.ok()) return RpcFailure(*control, "WaitReady", rpc);
  printf("ready: pid %lld\n", static_cast<long long>(response.status().pid()));
  return 0;
}

int Shutdown() {
  absl::StatusOr<Control> control = Connect();
  if (!control.ok()) return ConnectFailure(control.status());
  absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  grpc::ClientContext status_context;
  SetDeadline(&status_context, timeout);
  fixture::v1::Status status;
  grpc::Status rpc = control->stub->GetStatus(&status_context, fixture::v1::GetStatusRequest(), &status);
  if (!rpc.ok()) return RpcFailure(*control, "GetStatus", rpc);
  pid_t pid = static_cast<pid_t>(status.pid());
  fixture::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  fixture::v1::ShutdownRequest request;
  *request.mutable_grace() = fixture::ToProtoDuration(absl::GetFlag(FLAGS_grace));
  fixture::v1::ShutdownResponse response;
  rpc = control->stub->Shutdown(&context, request, &response);
  if (!rpc.ok()) return RpcFailure(*control, "Shutdown", rpc);
  if (!pidfd) {  // Another pid namespace, or it is gone already.
    printf("shutdown %s: state %s\n", response.initiated() ? "initiated" : "already under way",
           fixture::v1::State_Name(response.state()).c_str());
    return 0;
  }
  struct pollfd pfd = {pidfd.get(), POLLIN, 0};
  int ready = poll(&pfd, 1, fixture::PollTimeoutMs(absl::Now() + timeout));
  if (ready != 1) {
    return Fail(kExitTimeout, absl::StrCat("pid ", pid, " still runs ", absl::FormatDuration(timeout),
                                           " after Shutdown; stop it with kill -INT ", pid));
  }
  printf("pid %d stopped\n", pid);
  return 0;
}

int Watch() {
  absl::StatusOr<Control> control = Connect();
  if (!control.ok()) return ConnectFailure(control.status());
  grpc::ClientContext context;
  auto reader = control->stub->Watch(&context, fixture::v1::WatchRequest());
  fixture::v1::StateChange change;
  while (reader->Read(&change)) {
    printf("%s %s\n", absl::FormatTime(absl::RFC3339_full, fixture::FromProtoTimestamp(change.time()), absl::UTCTimeZone()).c_str(),
           fixture::v1::State_Name(change.state()).c_str());
    fflush(stdout);
  }
  grpc::Status rpc = reader->Finish();
  if (!rpc.ok()) return RpcFailure(*control, "Watch", rpc);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<CommandLine> line = Parse(argc, argv);
  if (!line.ok()) return Fail(kExitUsage, absl::StrCat(line.status().message(), " (see fixturectl --help)"));
  if (line->command == "help") {
    fputs(kUsage, stdout);
    return 0;
  }
  if (line->command == "run") return Run(*line);
  if (line->command == "status") return Status();
  if (line->command == "wait-ready") return WaitReady();
  if (line->command == "shutdown") return Shutdown();
  if (line->command == "watch") return Watch();
  return Fail(kExitUsage, absl::StrCat("unknown command \"", line->command, "\" (see fixturectl --help)"));
}
