#include "fixture/tools/fixturectl_starts.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "fixture/child_logs.h"
#include "fixture/child_process.h"
#include "fixture/executable_path.h"
#include "fixture/launch/deadline.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/failure.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/launch_spec.h"
#include "fixture/tools/fixturectl_attach.h"
#include "fixture/tools/fixturectl_children.h"
#include "fixture/tools/fixturectl_env.h"
#include "fixture/tools/fixturectl_exit_codes.h"
#include "fixture/tools/fixturectl_limits.h"
#include "fixture/tools/fixturectl_spec.h"

namespace fixturectl {
namespace {

using fixture::Fixture;

// While a start is aborted: how often the processes of starts still under
// way are looked for and killed (a start may fork just after a look).
constexpr absl::Duration kAbortInterval = absl::Milliseconds(10);

fixture::FixtureOptions OptionsFor(const CommandLine& line, const ServerSpec& server) {
  fixture::FixtureOptions options;
  options.name = server.name;
  options.program = fixture::Binary{server.binary};
  options.args = server.args;
  options.env = server.env;
  options.ready = server.ready;
  options.ports = server.ports;
  options.fixed_ports = server.fixed_ports;
  if (!std::holds_alternative<fixture::ReadyByLaunch>(server.ready)) {
    // A foreign server's fixed port is a reservation at that number.
    for (const auto& [name, port] : server.fixed_ports) {
      if (std::find(options.ports.begin(), options.ports.end(), name) == options.ports.end()) {
        options.ports.push_back(name);
      }
    }
  }
  options.stop_signal = server.stop_signal;
  options.socket_activation = server.socket_activation;
  options.ready_timeout = line.ready_timeout;
  options.stop.grace = line.grace;
  options.log_dir = line.log_dir;
  return options;
}

// What the start threads share with the waiting one. Held by each thread
// too, so that one left behind (Starts::abandoned) never touches freed
// memory.
struct Shared {
  absl::Mutex mu;
  // One per server, set once by its thread when its Start() has returned.
  std::vector<std::optional<absl::StatusOr<Fixture>>> results ABSL_GUARDED_BY(mu);
  // Set when the start is aborted: threads that have not called Start() yet
  // do not.
  std::atomic<bool> cancelled{false};
  // Written (1) by each thread when it is done.
  fixture::UniqueFd done;
};

// The body of server `index`'s thread.
void StartOne(std::shared_ptr<Shared> shared, fixture::FixtureOptions options, size_t index) {
  absl::StatusOr<Fixture> started = absl::CancelledError("the start was aborted before it began");
  if (!shared->cancelled.load()) {
    try {
      started = Fixture::Start(std::move(options));
    } catch (const std::system_error& error) {  // A thread the library needed could not be created.
      started = absl::ResourceExhaustedError(absl::StrCat("cannot create a thread: ", error.what()));
    }
  }
  {
    absl::MutexLock lock(&shared->mu);
    shared->results[index] = std::move(started);
  }
  uint64_t one = 1;
  ssize_t ignored = write(shared->done.get(), &one, sizeof one);
  (void)ignored;
}

// "server \"a\"" or "servers \"a\", \"b\"".
std::string ServerList(const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (const std::string& name : names) quoted.push_back(absl::StrCat("\"", name, "\""));
  return absl::StrCat(names.size() == 1 ? "server " : "servers ", absl::StrJoin(quoted, ", "));
}

}  // namespace

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

Starts StartServers(const CommandLine& line, SignalWatch& signals) {
  Starts out;
  const size_t count = line.servers.size();
  auto shared = std::make_shared<Shared>();
  {
    absl::MutexLock lock(&shared->mu);
    shared->results.resize(count);
  }
  shared->done.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!shared->done) {
    std::string error(fixture::ErrnoStatus(errno, "eventfd()").message());
    out.exit_code = kExitServerFailed;
    out.message = absl::StrCat("cannot start the servers: ", error, ResourceAdvice(error));
    return out;
  }

  // Why the start is aborted, once it is.
  bool aborting = false;
  absl::Time abandon_at = absl::InfiniteFuture();
  int stop_signal = 0;
  std::vector<std::string> starting;  // The servers under way when the signal came.
  auto abort_with = [&](int code, std::string message) {
    if (aborting) return;
    aborting = true;
    shared->cancelled.store(true);
    abandon_at = absl::Now() + kAbandonAfter;
    out.exit_code = code;
    out.message = std::move(message);
  };

  std::vector<std::thread> threads;
  for (size_t i = 0; i < count; ++i) {
    try {
      threads.emplace_back(StartOne, shared, OptionsFor(line, line.servers[i]), i);
    } catch (const std::system_error& error) {
      abort_with(kExitServerFailed, absl::StrCat("server \"", line.servers[i].name,
                                                 "\" did not start: cannot create a thread: ", error.what(),
                                                 ResourceAdvice(error.what())));
      break;
    }
  }

  std::vector<bool> seen(count, false);
  size_t finished = 0;
  while (finished < threads.size()) {
    if (aborting) {
      // Every child that is not a started server's belongs to a start under
      // way (or is an orphan one left): its death ends that Start() at once.
      // (A started server whose pid cannot be told, before Linux 5.10, is
      // killed too: stopped less gracefully, but stopped.)
      std::vector<pid_t> known;
      {
        absl::MutexLock lock(&shared->mu);
        for (const auto& result : shared->results) {
          if (result.has_value() && result->ok()) known.push_back(PidOfPidfd((*result)->exit_fd()));
        }
      }
      SignalOtherChildren(known, SIGKILL);
      if (absl::Now() >= abandon_at) break;
    }
    struct pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {shared->done.get(), POLLIN, 0}};
    int timeout = aborting ? fixture::PollTimeoutMs(std::min(abandon_at, absl::Now() + kAbortInterval)) : -1;
    if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
      std::string error(fixture::ErrnoStatus(errno, "poll()").message());
      abort_with(kExitOther, absl::StrCat("while the servers started: ", error));
    }
    const std::vector<int> stops = signals.Read().stops;
    for (int sig : stops) {
      if (aborting) continue;
      stop_signal = sig;
      for (size_t i = 0; i < count; ++i) {
        if (!seen[i]) starting.push_back(line.servers[i].name);
      }
      abort_with(128 + sig, "");
    }
    uint64_t ignored;
    while (read(shared->done.get(), &ignored, sizeof ignored) > 0) {
    }
    absl::MutexLock lock(&shared->mu);
    for (size_t i = 0; i < count; ++i) {
      if (seen[i] || !shared->results[i].has_value()) continue;
      seen[i] = true;
      ++finished;
      const absl::StatusOr<Fixture>& result = *shared->results[i];
      if (!result.ok()) {
        std::string message(result.status().message());
        abort_with(
            StartFailureExitCode(result.status()),
            absl::StrCat("server \"", line.servers[i].name, "\" did not start: ", message, ResourceAdvice(message)));
      } else if (absl::Status names = CheckEndpointNames(*result); !names.ok()) {
        abort_with(kExitServerFailed, std::string(names.message()));
      }
    }
  }
  // Every start has returned (or is abandoned): join what ended.
  std::vector<std::string> abandoned;
  for (size_t i = 0; i < threads.size(); ++i) {
    if (seen[i]) {
      threads[i].join();
    } else {
      threads[i].detach();
      abandoned.push_back(line.servers[i].name);
    }
  }
  // A signal that came after the last start, before CMD.
  if (!aborting) {
    std::vector<int> stops = signals.Read().stops;
    if (!stops.empty()) {
      stop_signal = stops.front();
      abort_with(128 + stop_signal, "");
    }
  }

  std::vector<Fixture> started;
  {
    absl::MutexLock lock(&shared->mu);
    for (size_t i = 0; i < count; ++i) {
      if (seen[i] && shared->results[i]->ok()) started.push_back(*std::move(*shared->results[i]));
      if (seen[i]) shared->results[i].reset();
    }
  }
  if (!aborting) {
    out.servers = std::move(started);
    return out;
  }
  // Aborted: stop what is up (a server killed in the race between its ready
  // and our look is reaped the same way).
  for (Fixture& server : started) server.Stop().IgnoreError();
  started.clear();
  if (stop_signal != 0) {
    const std::string cmd = line.cmd.empty() ? "CMD" : line.cmd[0];
    out.message =
        starting.empty()
            ? absl::StrCat(fixture::SignalName(stop_signal),
                           " arrived after the servers started, before CMD ran; stopped them and did not run ", cmd)
            : absl::StrCat(fixture::SignalName(stop_signal), " arrived during the start of ", ServerList(starting),
                           "; stopped the servers and did not run ", cmd);
  }
  if (!abandoned.empty()) {
    out.abandoned = true;
    absl::StrAppend(&out.message, "\n(the start of ", ServerList(abandoned), " did not end within ",
                    absl::FormatDuration(kAbandonAfter),
                    " of the kill of its process; fixturectl does not wait for it)");
  }
  return out;
}

namespace {

// `server` with "{DEP.ENDPOINT}" in its args and env values replaced.
absl::StatusOr<ServerSpec> Resolved(ServerSpec server, const std::vector<std::string>& names,
                                    const std::vector<ServerAddresses>& started) {
  for (std::string& arg : server.args) {
    absl::StatusOr<std::string> resolved = WithDepAddresses(arg, server, names, started);
    if (!resolved.ok()) return resolved.status();
    arg = *std::move(resolved);
  }
  for (auto& [key, value] : server.env) {
    absl::StatusOr<std::string> resolved = WithDepAddresses(value, server, names, started);
    if (!resolved.ok()) return resolved.status();
    value = *std::move(resolved);
  }
  return server;
}

// Runs task `task` (resolved) to its end, with the environment CMD would
// get for `started`, its stdout and stderr in an unnamed file for the
// message. OK if it exits 0 within line.ready_timeout; FailedPrecondition
// with its exit status (or the timeout; it is killed) and its output's tail.
// A stop signal meanwhile kills it (SIGKILL) at once: Cancelled, and the
// signal in *stop_signal.
absl::Status RunTask(const ServerSpec& task, const CommandLine& line, const std::vector<ServerAddresses>& started,
                     SignalWatch& signals, int* stop_signal) {
  absl::StatusOr<std::string> path = fixture::FindExecutable(task.binary);
  if (!path.ok())
    return absl::Status(path.status().code(), absl::StrCat("task \"", task.name, "\": ", path.status().message()));
  absl::StatusOr<fixture::EnvironmentChange> env = CommandEnvironment(started, getenv("FIXTURE_SERVERS"));
  if (!env.ok()) return env.status();
  fixture::UniqueFd output(memfd_create("fixturectl-task-output", MFD_CLOEXEC));
  if (!output) return fixture::ErrnoStatus(errno, absl::StrCat("memfd_create(task \"", task.name, "\" output)"));
  fixture::LaunchSpec spec;
  spec.program = fixture::Binary{*path};
  spec.args = task.args;
  spec.env = *std::move(env);
  for (const auto& [key, value] : task.env) spec.env.set.emplace_back(key, value);
  spec.stdio.out = output.get();
  spec.stdio.err = output.get();
  const absl::Time started_at = absl::Now();
  absl::StatusOr<fixture::ChildProcess> child = fixture::Launch(spec);
  if (!child.ok()) {
    return absl::Status(child.status().code(), absl::StrCat("task \"", task.name, "\": ", child.status().message()));
  }
  const absl::Time deadline = started_at + line.ready_timeout;
  absl::StatusOr<std::optional<fixture::ExitInfo>> exit = std::optional<fixture::ExitInfo>();
  for (;;) {
    absl::StatusOr<int> woke = fixture::PollAnyReadable({child->pidfd(), signals.fd()}, deadline,
                                                        absl::StrCat("task \"", task.name, "\" and the signals"));
    if (woke.ok() && *woke == 1) {
      std::vector<int> stops = signals.Read().stops;
      if (stops.empty()) continue;  // SIGCHLD only.
      *stop_signal = stops.front();
      child->Signal(SIGKILL).IgnoreError();
      child->WaitUntil(absl::InfiniteFuture()).IgnoreError();
      return absl::CancelledError(
          absl::StrCat(fixture::SignalName(stops.front()), " arrived while task \"", task.name, "\" ran; killed it"));
    }
    if (!woke.ok()) return woke.status();
    exit = child->WaitUntil(absl::Now());  // Exited (0), or the deadline (-1): nullopt.
    break;
  }
  std::string what;
  if (exit.ok() && !exit->has_value()) {
    child->Signal(SIGKILL).IgnoreError();
    child->WaitUntil(absl::InfiniteFuture()).IgnoreError();
    what = absl::StrCat("did not finish within --ready_timeout ", absl::FormatDuration(line.ready_timeout),
                        "; killed it with SIGKILL");
  } else if (!exit.ok()) {
    return exit.status();
  } else if ((*exit)->success()) {
    return absl::OkStatus();
  } else {
    what = (*exit)->ToString();
  }
  return absl::FailedPreconditionError(absl::StrCat("task \"", task.name, "\" (pid ", child->pid(), ", ", *path, ") ",
                                                    what, "; its last output:\n",
                                                    fixture::TailOfFile(output.get(), 10, "  | ")));
}

// Stops `servers` in reverse order (a failed start's clean-up).
void StopInReverse(std::vector<Fixture>& servers) {
  for (auto it = servers.rbegin(); it != servers.rend(); ++it) it->Stop().IgnoreError();
  servers.clear();
}

}  // namespace

Starts StartGraph(const CommandLine& line, SignalWatch& signals) {
  Starts out;
  absl::StatusOr<std::vector<std::vector<size_t>>> waves = StartWaves(line.servers);
  if (!waves.ok()) {
    out.exit_code = kExitUsage;
    out.message = std::string(waves.status().message());
    return out;
  }
  std::vector<std::string> names;
  for (const ServerSpec& server : line.servers) names.push_back(server.name);
  auto fail = [&](int code, std::string message) {
    StopInReverse(out.servers);
    out.exit_code = code;
    out.message = std::move(message);
    return std::move(out);
  };
  for (const std::vector<size_t>& wave : *waves) {
    CommandLine servers = line;
    servers.servers.clear();
    std::vector<ServerSpec> tasks;
    for (size_t i : wave) {
      absl::StatusOr<ServerSpec> resolved = Resolved(line.servers[i], names, out.addresses);
      if (!resolved.ok()) return fail(kExitUsage, std::string(resolved.status().message()));
      if (std::optional<std::string> target = resolved->task ? std::nullopt : AttachTarget(resolved->name)) {
        absl::StatusOr<ServerAddresses> attached = Attach(*resolved, *target, line.ready_timeout);
        if (!attached.ok()) {
          return fail(absl::IsInvalidArgument(attached.status()) ? kExitUsage : kExitUnavailable,
                      std::string(attached.status().message()));
        }
        out.addresses.push_back(*std::move(attached));
        continue;
      }
      (resolved->task ? tasks : servers.servers).push_back(*std::move(resolved));
    }
    if (!servers.servers.empty()) {
      Starts started = StartServers(servers, signals);
      if (started.exit_code != 0) {
        out.abandoned = started.abandoned;
        return fail(started.exit_code, started.message);
      }
      for (Fixture& server : started.servers) {
        out.addresses.push_back(AddressesOf(server));
        out.servers.push_back(std::move(server));
      }
    }
    for (const ServerSpec& task : tasks) {
      int stop_signal = 0;
      if (absl::Status ran = RunTask(task, line, out.addresses, signals, &stop_signal); !ran.ok()) {
        if (stop_signal != 0) return fail(128 + stop_signal, std::string(ran.message()));
        return fail(absl::IsNotFound(ran) || absl::IsPermissionDenied(ran) ? kExitNoServerBinary : kExitServerFailed,
                    std::string(ran.message()));
      }
    }
  }
  return out;
}

}  // namespace fixturectl
