#include "tools/fixturectl_run.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fixture/child_process.h"
#include "fixture/fixture.h"
#include "fixture/launch_spec.h"
#include "launch/environment.h"
#include "launch/errno_status.h"
#include "launch/exit_info.h"
#include "launch/failure.h"
#include "launch/unique_fd.h"
#include "tools/fixturectl_exit_codes.h"

namespace fixturectl {
namespace {

using fixture::ChildProcess;
using fixture::Fixture;

// While it lives, the signals a user sends to CMD (SIGINT, SIGTERM, SIGHUP,
// SIGQUIT) are blocked in fixturectl and read from a signalfd instead:
// fixturectl stops the servers when CMD is done, so it must not die of them
// first. Created before any thread, so that every thread inherits the mask
// (children get a clean one: launch/forked_child.h). Restores the mask when
// destroyed.
class SignalForwarder {
 public:
  SignalForwarder() {
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&forwarded, sig);
    pthread_sigmask(SIG_BLOCK, &forwarded, &saved_mask_);
    fd_.reset(signalfd(-1, &forwarded, SFD_CLOEXEC));
  }
  ~SignalForwarder() { pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr); }
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;

  // Polls readable when a signal is pending; -1 if signalfd(2) failed.
  int fd() const { return fd_.get(); }
  // The last signal read, 0 before the first.
  int last() const { return last_; }

  // Reads one pending signal and sends it on to `cmd`, unless it came from
  // the kernel: a terminal's Ctrl-C reached CMD and the servers too, as they
  // share fixturectl's process group; a kill(2) may have been for us alone.
  void Forward(ChildProcess& cmd) {
    struct signalfd_siginfo info;
    if (read(fd_.get(), &info, sizeof info) != sizeof info) return;
    last_ = static_cast<int>(info.ssi_signo);
    if (info.ssi_code != SI_KERNEL) cmd.Signal(last_).IgnoreError();
  }

 private:
  sigset_t saved_mask_;
  fixture::UniqueFd fd_;
  int last_ = 0;
};

// OK unless two servers' names give the same FIXTURE_<NAME>_* variables
// (then InvalidArgument naming both).
absl::Status CheckDistinctNames(const std::vector<ServerSpec>& servers) {
  for (size_t i = 0; i < servers.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      std::string key = EnvName(servers[i].name);
      if (EnvName(servers[j].name) != key) continue;
      return absl::InvalidArgumentError(absl::StrCat("servers \"", servers[j].name, "\" and \"", servers[i].name,
                                                     "\" both give FIXTURE_", key, "_*; give each a distinct --name"));
    }
  }
  return absl::OkStatus();
}

// Starts every server of `line`, in order, and waits until each is ready.
// The first failure, as "server \"NAME\" did not start: ..." with the
// Fixture's code and Failure payload (the servers started before it stop).
absl::StatusOr<std::vector<Fixture>> StartServers(const CommandLine& line) {
  std::vector<Fixture> fixtures;
  for (const ServerSpec& server : line.servers) {
    fixture::FixtureOptions options;
    options.name = server.name;
    options.program = fixture::Binary{server.binary};
    options.args = server.args;
    options.ready_timeout = line.ready_timeout;
    options.stop.grace = line.grace;
    options.log_dir = line.log_dir;
    absl::StatusOr<Fixture> started = Fixture::Start(std::move(options));
    if (!started.ok()) {
      return fixture::Annotate(started.status(), absl::StrCat("server \"", server.name, "\" did not start: "));
    }
    fixtures.push_back(*std::move(started));
  }
  return fixtures;
}

// CMD's environment: fixturectl's without its FIXTURE_* variables, plus the
// servers' (see fixturectl_run.h).
fixture::EnvironmentChange ServerEnvironment(const std::vector<Fixture>& fixtures) {
  fixture::EnvironmentChange env;
  env.unset_prefixes = {"FIXTURE_"};
  std::vector<std::string> names;
  for (const Fixture& server : fixtures) {
    if (names.empty()) env.set.emplace_back("FIXTURE_CONTROL", server.control_address());
    std::string prefix = absl::StrCat("FIXTURE_", EnvName(server.name()), "_");
    env.set.emplace_back(prefix + "CONTROL", server.control_address());
    env.set.emplace_back(prefix + "PID", absl::StrCat(server.pid()));
    for (const fixture::v1::Endpoint& endpoint : server.endpoints()) {
      env.set.emplace_back(prefix + EnvName(endpoint.name()), endpoint.address());
    }
    names.push_back(server.name());
  }
  env.set.emplace_back("FIXTURE_SERVERS", absl::StrJoin(names, " "));
  return env;
}

// CMD's executable: as given if it has a '/', else searched in PATH; nullopt
// if there is none.
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

// Starts CMD (`cmd`: its words as typed) with fixturectl's stdio and `env`
// applied to fixturectl's environment. NotFound when CMD or the interpreter
// its #! line names does not exist; another code when it cannot be run;
// each with the message fixturectl prints.
absl::StatusOr<ChildProcess> RunCommand(const std::vector<std::string>& cmd, fixture::EnvironmentChange env) {
  std::optional<std::string> path = FindCommand(cmd[0]);
  if (!path.has_value()) return absl::NotFoundError(absl::StrCat(cmd[0], ": command not found"));
  fixture::LaunchSpec spec;
  spec.program = fixture::Binary{*path};
  spec.argv0 = cmd[0];
  spec.args.assign(cmd.begin() + 1, cmd.end());
  spec.env = std::move(env);
  spec.stdio.in = 0;
  spec.stdio.out = 1;
  spec.stdio.err = 2;
  absl::StatusOr<ChildProcess> child = fixture::Launch(spec);
  if (child.ok()) return child;
  // ENOENT for a file that exists: the interpreter its #! line names does not.
  bool missing = absl::IsNotFound(child.status());
  return absl::Status(child.status().code(),
                      absl::StrCat("cannot run ", cmd[0], ": ", child.status().message(),
                                   missing ? " (is the interpreter on its #! line installed?)" : ""));
}

// After `server`'s exit descriptor polled readable while CMD ran: reaps it
// and says so on stderr. An exit with status 0 is reported as a stop (by the
// signal fixturectl got, `signal`, or a control Shutdown from CMD); any
// other end is added to `crashes`.
void ReportServerExit(Fixture& server, absl::string_view cmd_name, int signal, std::vector<std::string>* crashes) {
  absl::Status running = server.CheckRunning();
  absl::StatusOr<fixture::StopResult> ended = server.Stop();  // Reaps it.
  if (ended.ok() && ended->exit.success()) {
    std::string why = signal != 0 ? absl::StrCat("stopped by the ", fixture::SignalName(signal), " fixturectl got too")
                                  : "a control Shutdown from the command?";
    fprintf(stderr, "fixturectl: server \"%s\" exited with status 0 while %s ran (%s)\n", server.name().c_str(),
            std::string(cmd_name).c_str(), why.c_str());
    return;
  }
  crashes->emplace_back(running.message());
  fprintf(stderr, "fixturectl: while %s ran, %s\n", std::string(cmd_name).c_str(), crashes->back().c_str());
}

// Waits until CMD has exited, forwarding signals to it and reporting every
// server that exits meanwhile (ReportServerExit). A server reaped here has
// exit_fd() -1, which poll(2) skips. The errno text if poll(2) fails.
absl::Status AwaitCommand(ChildProcess& cmd, absl::string_view cmd_name, SignalForwarder& signals,
                          std::vector<Fixture>& fixtures, std::vector<std::string>* crashes) {
  for (;;) {
    std::vector<struct pollfd> fds = {{cmd.pidfd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}};
    for (const Fixture& server : fixtures) fds.push_back({server.exit_fd(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return fixture::ErrnoStatus(errno, "poll failed");
    if (fds[1].revents & POLLIN) signals.Forward(cmd);
    for (size_t i = 0; i < fixtures.size(); ++i) {
      if (fds[i + 2].revents & POLLIN) ReportServerExit(fixtures[i], cmd_name, signals.last(), crashes);
    }
    if (fds[0].revents & POLLIN) return absl::OkStatus();
  }
}

// Stops every server once CMD has ended. One found dead (not by an exit with
// status 0) is added to `crashes`; a stop that fails or is not clean is
// reported on stderr. Servers reaped while CMD ran (exit_fd() -1) have been
// reported already.
void StopServers(std::vector<Fixture>& fixtures, std::vector<std::string>* crashes) {
  for (Fixture& server : fixtures) {
    absl::Status running = server.exit_fd() < 0 ? absl::OkStatus() : server.CheckRunning();
    absl::StatusOr<fixture::StopResult> stopped = server.Stop();
    if (!running.ok() && stopped.ok() && !stopped->exit.success()) {  // Died as CMD ended.
      crashes->emplace_back(running.message());
    } else if (!stopped.ok()) {
      fprintf(stderr, "fixturectl: stopping \"%s\": %s\n", server.name().c_str(), stopped.status().ToString().c_str());
    } else if (!stopped->clean() && stopped->stage != fixture::StopStage::kAlreadyExited) {
      fprintf(stderr, "fixturectl: \"%s\" did not stop cleanly: %s\n", server.name().c_str(),
              stopped->ToString().c_str());
    }
  }
}

// fixturectl's exit status once everything is stopped: CMD's own (128+N for
// signal N) unless it succeeded while a server crashed (kExitServerCrashed,
// the crashes on stderr); kExitOther if CMD's exit was lost.
int ExitStatusOf(const absl::StatusOr<std::optional<fixture::ExitInfo>>& exit, absl::string_view cmd_name,
                 const std::vector<std::string>& crashes) {
  if (!exit.ok() || !exit->has_value()) return Fail(kExitOther, "lost track of CMD");
  if ((*exit)->signaled) return 128 + (*exit)->signal;
  if ((*exit)->code != 0) return (*exit)->code;
  if (!crashes.empty()) {
    return Fail(kExitServerCrashed,
                absl::StrCat(cmd_name, " succeeded, but a server died while it ran:\n", absl::StrJoin(crashes, "\n")));
  }
  return 0;
}

}  // namespace

std::string EnvName(absl::string_view name) {
  std::string out(name);
  for (char& c : out) c = absl::ascii_isalnum(static_cast<unsigned char>(c)) ? absl::ascii_toupper(c) : '_';
  return out;
}

int StartFailureExitCode(const absl::Status& status) {
  std::optional<fixture::v1::Failure> failure = fixture::FailureOf(status);
  bool bad_program = failure.has_value() && failure->stage() == fixture::v1::Failure::OPTIONS &&
                     failure->cause() == fixture::v1::Failure::NOT_FOUND && failure->field() == "program";
  if (bad_program && (absl::IsNotFound(status) || absl::IsPermissionDenied(status))) return kExitNoServerBinary;
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
  if (absl::Status distinct = CheckDistinctNames(line.servers); !distinct.ok()) {
    return Fail(kExitUsage, distinct.message());
  }
  SignalForwarder signals;  // Before the first thread (gRPC's) starts.
  absl::StatusOr<std::vector<Fixture>> fixtures = StartServers(line);
  if (!fixtures.ok()) return Fail(StartFailureExitCode(fixtures.status()), fixtures.status().message());
  absl::StatusOr<ChildProcess> cmd = RunCommand(line.cmd, ServerEnvironment(*fixtures));
  if (!cmd.ok()) return Fail(absl::IsNotFound(cmd.status()) ? kExitNoCommand : kExitCannotRun, cmd.status().message());

  std::vector<std::string> crashes;
  absl::Status waited = AwaitCommand(*cmd, line.cmd[0], signals, *fixtures, &crashes);
  if (!waited.ok()) return Fail(kExitOther, waited.message());
  absl::StatusOr<std::optional<fixture::ExitInfo>> exit = cmd->WaitUntil(absl::InfiniteFuture());
  StopServers(*fixtures, &crashes);
  return ExitStatusOf(exit, line.cmd[0], crashes);
}

}  // namespace fixturectl
