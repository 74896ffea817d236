#include "fixture/tools/fixturectl_run.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fixture/fixture.h"
#include "fixture/launch/deadline.h"
#include "fixture/launch/environment.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/exit_info.h"
#include "fixture/tools/fixturectl_children.h"
#include "fixture/tools/fixturectl_command.h"
#include "fixture/tools/fixturectl_exit_codes.h"
#include "fixture/tools/fixturectl_junit.h"
#include "fixture/tools/fixturectl_limits.h"
#include "fixture/tools/fixturectl_signals.h"
#include "fixture/tools/fixturectl_spec.h"
#include "fixture/tools/fixturectl_supervisor.h"

namespace fixturectl {
namespace {

using fixture::Fixture;

// OK unless two servers' names give the same FIXTURE_<NAME>_* variables
// (then InvalidArgument naming both).
absl::Status CheckDistinctNames(const std::vector<ServerSpec>& servers) {
  for (size_t i = 0; i < servers.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      std::string key = fixture::VariableNamePart(servers[i].name);
      if (fixture::VariableNamePart(servers[j].name) != key) continue;
      return absl::InvalidArgumentError(absl::StrCat("servers \"", servers[j].name, "\" and \"", servers[i].name,
                                                     "\" both give FIXTURE_", key, "_*; give each a distinct --name"));
    }
  }
  return absl::OkStatus();
}

// fixturectl's children that the toolkit reaps itself: each server's process
// (the fixture's child, which may be a wrapper of the server), CMD and its
// watchdog. Never waited for by fixturectl_children.h. nullopt if the pid of
// a server's process that is not reaped yet cannot be told (a kernel whose
// pidfds' fdinfo has no "Pid:", before 5.10): then nothing may be reaped.
std::optional<std::vector<pid_t>> KnownChildren(const Command& cmd, const std::vector<Fixture>& fixtures) {
  std::vector<pid_t> known = cmd.pids();
  for (const Fixture& server : fixtures) {
    if (server.exit_fd() < 0) continue;  // Reaped.
    pid_t pid = PidOfPidfd(server.exit_fd());
    if (pid <= 0) return std::nullopt;
    known.push_back(pid);
  }
  return known;
}

// How CMD's wait ended, apart from CMD's own exit.
struct Escalation {
  // The first stop signal fixturectl got while CMD ran (0: none).
  int signal = 0;
  // CMD did not exit within --kill_after of it: its group got SIGKILL.
  bool killed = false;
};

// After `server`'s exit descriptor polled readable while CMD ran: reaps it
// (not stopping the Fixture, so that CMD can restart it) and says so on
// stderr. An exit CMD caused through the supervisor (a Kill) or with status
// 0 (by the signal fixturectl got, `signal`, or a control Shutdown from CMD)
// is said as such; any other end is added to `crashes`.
void OnServerExit(Fixture& server, absl::string_view cmd_name, int signal, const Supervisor& supervisor,
                  std::vector<std::string>* crashes) {
  const absl::Status running = server.CheckRunning();  // Reaps it: exit_fd() is -1 from now on.
  absl::StatusOr<fixture::ExitInfo> exit = server.WaitForExit(absl::ZeroDuration());
  if (exit.ok() && supervisor.CausedExit(server.name(), *exit)) {
    fprintf(stderr, "fixturectl: server \"%s\" %s, as %s asked (Kill on %s); `fixturectl restart %s` brings it back\n",
            server.name().c_str(), exit->ToString().c_str(), std::string(cmd_name).c_str(), kSupervisorEnv,
            server.name().c_str());
    return;
  }
  if (exit.ok() && exit->success()) {
    std::string why = signal != 0 ? absl::StrCat("stopped by the ", fixture::SignalName(signal), " fixturectl got too")
                                  : "a control Shutdown from the command?";
    fprintf(stderr, "fixturectl: server \"%s\" exited with status 0 while %s ran (%s)\n", server.name().c_str(),
            std::string(cmd_name).c_str(), why.c_str());
    return;
  }
  crashes->emplace_back(running.message());
  fprintf(stderr, "fixturectl: while %s ran, %s\n", std::string(cmd_name).c_str(), crashes->back().c_str());
}

// Waits until CMD has exited: forwards each stop signal to CMD's process
// group, and SIGKILLs the group `kill_after` after the first; reports every
// server that exits meanwhile (OnServerExit); reaps the orphans fixturectl
// adopted that exit; carries out the supervisor's calls. A server reaped
// here has exit_fd() -1, which poll(2) skips. The errno text if poll(2)
// fails.
absl::Status AwaitCommand(Command& cmd, absl::string_view cmd_name, absl::Duration kill_after, SignalWatch& signals,
                          Supervisor& supervisor, std::vector<Fixture>& fixtures, std::vector<std::string>* crashes,
                          Escalation* escalation) {
  absl::Time kill_at = absl::InfiniteFuture();
  for (;;) {
    std::vector<struct pollfd> fds = {
        {cmd.pidfd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}, {supervisor.fd(), POLLIN, 0}};
    for (const Fixture& server : fixtures) fds.push_back({server.exit_fd(), POLLIN, 0});
    int timeout = escalation->killed ? -1 : fixture::PollTimeoutMs(kill_at);
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return fixture::ErrnoStatus(errno, "poll failed");
    if (fds[1].revents & POLLIN) {
      SignalWatch::Pending got = signals.Read();
      for (int sig : got.stops) {
        if (escalation->signal == 0) {
          escalation->signal = sig;
          kill_at = absl::Now() + kill_after;
        }
        cmd.Signal(sig).IgnoreError();
      }
      if (got.child) {
        if (std::optional<std::vector<pid_t>> known = KnownChildren(cmd, fixtures)) ReapExitedChildren(*known);
      }
    }
    for (size_t i = 0; i < fixtures.size(); ++i) {
      if (fds[i + 3].revents & POLLIN) OnServerExit(fixtures[i], cmd_name, escalation->signal, supervisor, crashes);
    }
    if (fds[0].revents & POLLIN) return absl::OkStatus();
    // Last: a restart replaces the exit descriptors polled above.
    if (fds[2].revents & POLLIN) supervisor.Serve(fixtures);
    if (!escalation->killed && absl::Now() >= kill_at) {
      fprintf(stderr, "fixturectl: %s (pid %d) did not exit within --kill_after=%s of %s; killing its process group\n",
              std::string(cmd_name).c_str(), cmd.pid(), absl::FormatDuration(kill_after).c_str(),
              fixture::SignalName(escalation->signal).c_str());
      cmd.Signal(SIGKILL).IgnoreError();
      escalation->killed = true;
    }
  }
}

// Stops every server once CMD has ended. One found dead (not by an exit with
// status 0, nor killed by CMD through the supervisor) is added to
// `crashes`; a stop that fails or is not clean is reported on stderr.
// Servers reaped while CMD ran (exit_fd() -1) have been reported already.
void StopServers(std::vector<Fixture>& fixtures, const Supervisor& supervisor, std::vector<std::string>* crashes,
                 JunitReport* report) {
  // In reverse start order: a server's dependents stop before it does.
  for (auto it = fixtures.rbegin(); it != fixtures.rend(); ++it) {
    Fixture& server = *it;
    const bool reaped = server.exit_fd() < 0;  // Died while CMD ran (reported then).
    absl::Status running = reaped ? absl::OkStatus() : server.CheckRunning();
    absl::StatusOr<fixture::StopResult> stopped = server.Stop();
    std::string failure;
    if (stopped.ok() && stopped->stage == fixture::StopStage::kAlreadyExited &&
        supervisor.CausedExit(server.name(), stopped->exit)) {
      // As CMD asked: no failure.
    } else if (!running.ok() && stopped.ok() && !stopped->exit.success()) {  // Died as CMD ended.
      crashes->emplace_back(running.message());
      failure = std::string(running.message());
    } else if (!stopped.ok()) {
      fprintf(stderr, "fixturectl: stopping \"%s\": %s\n", server.name().c_str(), stopped.status().ToString().c_str());
      failure = stopped.status().ToString();
    } else if (reaped) {
      failure = absl::StrCat("died while the test ran: ", stopped->ToString());
    } else if (!stopped->clean() && stopped->stage != fixture::StopStage::kAlreadyExited) {
      fprintf(stderr, "fixturectl: \"%s\" did not stop cleanly: %s\n", server.name().c_str(),
              stopped->ToString().c_str());
      failure = absl::StrCat("did not stop cleanly: ", stopped->ToString());
    }
    report->AddCase(absl::StrCat("stop ", server.name()), stopped.ok() ? stopped->duration : absl::ZeroDuration(),
                    std::move(failure));
  }
}

// fixturectl's exit status once everything is stopped: CMD's own (128+N for
// signal N) unless it succeeded while a server crashed (kExitServerCrashed,
// the crashes on stderr), or fixturectl killed it (128 + the signal
// fixturectl got); kExitOther if CMD's exit was lost.
int ExitStatusOf(const absl::StatusOr<std::optional<fixture::ExitInfo>>& exit, absl::string_view cmd_name,
                 const Escalation& escalation, const std::vector<std::string>& crashes) {
  if (!exit.ok() || !exit->has_value()) return Fail(kExitOther, "lost track of CMD");
  if (escalation.killed && (*exit)->signaled && (*exit)->signal == SIGKILL) {
    return Fail(128 + escalation.signal,
                absl::StrCat(cmd_name, " ignored the ", fixture::SignalName(escalation.signal),
                             " fixturectl got and forwarded; killed it (and its process group) with SIGKILL"));
  }
  if ((*exit)->signaled) return 128 + (*exit)->signal;
  if ((*exit)->code != 0) return (*exit)->code;
  if (!crashes.empty()) {
    return Fail(kExitServerCrashed,
                absl::StrCat(cmd_name, " succeeded, but a server died while it ran:\n", absl::StrJoin(crashes, "\n")));
  }
  return 0;
}

// The exit status for a CMD that did not start: 127 not found, 126 found but
// execve() refused it (the EXEC_FAILED payload says so), and for anything
// else (fork(), pipe2() at a process or fd limit) the status of a start that
// failed.
int CommandStartExit(const absl::Status& error) {
  if (absl::IsNotFound(error)) return kExitNoCommand;
  std::optional<fixture::v1::Failure> failure = fixture::FailureOf(error);
  if (failure.has_value() && failure->cause() == fixture::v1::Failure::EXEC_FAILED) return kExitCannotRun;
  return kExitServerFailed;
}

// TEST_TIMEOUT for CMD: Bazel's seconds (from fixturectl's environment) less
// the whole seconds the start took since `began`, at least 1; nullopt when
// Bazel set none (or not a number).
std::optional<std::string> RemainingTestTimeout(absl::Time began) {
  const char* given = getenv("TEST_TIMEOUT");
  int64_t seconds = 0;
  if (given == nullptr || !absl::SimpleAtoi(given, &seconds) || seconds <= 0) return std::nullopt;
  const int64_t spent = absl::ToInt64Seconds(absl::Ceil(absl::Now() - began, absl::Seconds(1)));
  return absl::StrCat(std::max<int64_t>(1, seconds - spent));
}

// The servers, then CMD, to the end; fixturectl's exit status. Every Fixture
// and CMD are gone (stopped, reaped) when it returns. *abandoned: a server's
// start could not be ended.
int RunServersAndCommand(const CommandLine& line, SignalWatch& signals, absl::Time began, JunitReport* report,
                         bool* abandoned) {
  Starts started = StartGraph(line, signals);
  *abandoned = started.abandoned;
  if (started.exit_code != 0) {
    report->AddCase("start", absl::Now() - began, started.message.empty() ? "the start was aborted" : started.message);
    return Fail(started.exit_code, started.message);
  }
  std::vector<Fixture>& fixtures = started.servers;
  for (const Fixture& server : fixtures) {
    report->AddCase(absl::StrCat("start ", server.name()), server.timeline().ready - server.timeline().start, "");
  }
  absl::StatusOr<fixture::EnvironmentChange> env = CommandEnvironment(started.addresses, getenv("FIXTURE_SERVERS"));
  if (!env.ok()) return Fail(kExitServerFailed, env.status().message());
  absl::StatusOr<std::unique_ptr<Supervisor>> supervisor = Supervisor::Start();
  if (!supervisor.ok()) {
    return Fail(kExitServerFailed, absl::StrCat("cannot serve the supervisor socket (", kSupervisorEnv,
                                                "): ", supervisor.status().message()));
  }
  env->set.emplace_back(kSupervisorEnv, (*supervisor)->address());
  // Under `bazel test`, the wrapped test's own timeout handling sees the time
  // that is left, not the whole budget.
  if (std::optional<std::string> timeout = RemainingTestTimeout(began)) env->set.emplace_back("TEST_TIMEOUT", *timeout);
  report->AddCommandVariables(&*env);
  absl::StatusOr<std::unique_ptr<Command>> cmd = Command::Start(line.cmd, *std::move(env));
  if (!cmd.ok()) return Fail(CommandStartExit(cmd.status()), cmd.status().message());

  std::vector<std::string> crashes;
  Escalation escalation;
  absl::Status waited =
      AwaitCommand(**cmd, line.cmd[0], line.kill_after, signals, **supervisor, fixtures, &crashes, &escalation);
  (*supervisor)->Shutdown();  // Nothing more for CMD to ask, before the servers stop.
  if (!waited.ok()) return Fail(kExitOther, waited.message());
  absl::StatusOr<std::optional<fixture::ExitInfo>> exit = (*cmd)->WaitUntil(absl::InfiniteFuture());
  (*cmd)->Finish();
  StopServers(fixtures, **supervisor, &crashes, report);
  return ExitStatusOf(exit, line.cmd[0], escalation, crashes);
}

}  // namespace

int Run(const CommandLine& given) {
  const absl::Time began = absl::Now();
  CommandLine line = given;
  if (!line.spec.empty()) {
    absl::StatusOr<std::vector<ServerSpec>> defined = ReadSpec(line.spec);
    if (!defined.ok()) return Fail(kExitUsage, defined.status().message());
    line.servers.insert(line.servers.begin(), defined->begin(), defined->end());
  }
  if (line.servers.empty()) return Fail(kExitUsage, "run needs at least one --server=PATH or a --spec (see --help)");
  for (const CommandLine::FixedPort& fixed : line.fixed_ports) {
    auto server = std::find_if(line.servers.begin(), line.servers.end(),
                               [&](const ServerSpec& s) { return s.name == fixed.server; });
    if (server == line.servers.end()) {
      std::vector<std::string> names;
      for (const ServerSpec& s : line.servers) names.push_back(s.name);
      return Fail(kExitUsage, absl::StrCat("--port=", fixed.server, ".", fixed.name, "=", fixed.port, ": no server \"",
                                           fixed.server, "\" (the servers: ", absl::StrJoin(names, ", "), ")"));
    }
    server->fixed_ports[fixed.name] = fixed.port;
  }
  if (line.cmd.empty()) return Fail(kExitUsage, "run needs a command after -- (see --help)");
  if (absl::Status distinct = CheckDistinctNames(line.servers); !distinct.ok()) {
    return Fail(kExitUsage, distinct.message());
  }
  if (absl::StatusOr<std::vector<std::vector<size_t>>> deps = DepIndices(line.servers); !deps.ok()) {
    return Fail(kExitUsage, deps.status().message());
  }
  if (line.kill_after < absl::ZeroDuration()) {
    return Fail(kExitUsage,
                absl::StrCat("--kill_after must not be negative, got ", absl::FormatDuration(line.kill_after)));
  }
  const int servers = static_cast<int>(line.servers.size());
  if (absl::Status fds = CheckDescriptors(DescriptorsNeeded(servers),
                                          absl::StrCat("`run` with ", servers, servers == 1 ? " server" : " servers"));
      !fds.ok()) {
    return Fail(kExitServerFailed, fds.message());
  }
  // A write to a pipe whose reader is gone (CMD's watchdog, stderr) fails
  // with EPIPE instead of killing fixturectl. Children get the default back.
  signal(SIGPIPE, SIG_IGN);
  SignalWatch signals;  // Before the first thread starts.
  if (!signals.status().ok()) {
    std::string error(signals.status().message());
    return Fail(kExitServerFailed, absl::StrCat("cannot watch signals: ", error, ResourceAdvice(error)));
  }
  if (absl::Status threads = CheckThreads(ThreadsNeeded(servers),
                                          absl::StrCat("`run` with ", servers, servers == 1 ? " server" : " servers"));
      !threads.ok()) {
    return Fail(kExitServerFailed, threads.message());
  }
  if (absl::Status subreaper = BecomeSubreaper(); !subreaper.ok()) {
    fprintf(stderr, "fixturectl: %s: processes the servers or CMD leave behind may outlive fixturectl\n",
            std::string(subreaper.message()).c_str());
  }
  bool abandoned = false;
  JunitReport report = JunitReport::FromEnvironment(line.junit);
  const int code = RunServersAndCommand(line, signals, began, &report, &abandoned);
  report.Write(line.cmd[0], code);
  // Nothing of the toolkit's is left to reap: whatever child remains was left
  // behind by a server or CMD.
  std::vector<Leftover> leftovers = EndChildren({}, line.kill_after);
  if (!leftovers.empty()) fprintf(stderr, "fixturectl: ended %s\n", DescribeLeftovers(leftovers).c_str());
  if (abandoned) {
    fflush(stdout);
    _exit(code);
  }
  return code;
}

}  // namespace fixturectl
