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
  // One per entry of the graph, set once by its thread when it is done: a
  // server's Start() result, or a task's.
  std::vector<std::optional<absl::StatusOr<Fixture>>> servers ABSL_GUARDED_BY(mu);
  std::vector<std::optional<absl::Status>> tasks ABSL_GUARDED_BY(mu);
  std::vector<std::optional<absl::StatusOr<ServerAddresses>>> attached ABSL_GUARDED_BY(mu);
  // Set when the start is aborted: threads that have not begun do not.
  std::atomic<bool> cancelled{false};
  // Written (1) by each thread when it is done.
  fixture::UniqueFd done;

  void Done() {
    uint64_t one = 1;
    ssize_t ignored = write(done.get(), &one, sizeof one);
    (void)ignored;
  }
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
    shared->servers[index] = std::move(started);
  }
  shared->Done();
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
// get for `deps` (its deps' addresses), its stdout and stderr in an unnamed
// file for the message. OK if it exits 0 within `timeout` (--ready_timeout);
// FailedPrecondition with its exit status (or the timeout; it is killed) and
// its output's tail. An aborted start kills it (it is one of fixturectl's
// children that is no started server's, StartGraph below).
absl::Status RunTask(const ServerSpec& task, absl::Duration timeout, const std::vector<ServerAddresses>& deps) {
  absl::StatusOr<std::string> path = fixture::FindExecutable(task.binary);
  if (!path.ok())
    return absl::Status(path.status().code(), absl::StrCat("task \"", task.name, "\": ", path.status().message()));
  absl::StatusOr<fixture::EnvironmentChange> env = CommandEnvironment(deps, getenv("FIXTURE_SERVERS"));
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
  absl::StatusOr<std::optional<fixture::ExitInfo>> exit = child->WaitUntil(started_at + timeout);
  std::string what;
  if (exit.ok() && !exit->has_value()) {
    child->Signal(SIGKILL).IgnoreError();
    child->WaitUntil(absl::InfiniteFuture()).IgnoreError();
    what = absl::StrCat("did not finish within --ready_timeout ", absl::FormatDuration(timeout),
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

// The body of task `index`'s thread.
void RunOne(std::shared_ptr<Shared> shared, ServerSpec task, absl::Duration timeout, std::vector<ServerAddresses> deps,
            size_t index) {
  absl::Status ran = absl::CancelledError("the start was aborted before it began");
  if (!shared->cancelled.load()) ran = RunTask(task, timeout, deps);
  {
    absl::MutexLock lock(&shared->mu);
    shared->tasks[index] = std::move(ran);
  }
  shared->Done();
}

// The body of attached server `index`'s thread (FIXTURE_<NAME>_ATTACH): its
// addresses, once its control socket answers (up to `timeout`).
void AttachOne(std::shared_ptr<Shared> shared, ServerSpec server, std::string target, absl::Duration timeout,
               size_t index) {
  absl::StatusOr<ServerAddresses> attached = absl::CancelledError("the start was aborted before it began");
  if (!shared->cancelled.load()) attached = Attach(server, target, timeout);
  {
    absl::MutexLock lock(&shared->mu);
    shared->attached[index] = std::move(attached);
  }
  shared->Done();
}

// "task \"a\"" or "tasks \"a\", \"b\"", as ServerList says servers.
std::string TaskList(const std::vector<std::string>& names) {
  std::string list = ServerList(names);
  return absl::StrCat(names.size() == 1 ? "task" : "tasks", list.substr(list.find(' ')));
}

}  // namespace

Starts StartGraph(const CommandLine& line, SignalWatch& signals) {
  Starts out;
  absl::StatusOr<std::vector<std::vector<size_t>>> deps = DepIndices(line.servers);
  if (!deps.ok()) {
    out.exit_code = kExitUsage;
    out.message = std::string(deps.status().message());
    return out;
  }
  const size_t count = line.servers.size();
  std::vector<std::string> names;
  for (const ServerSpec& server : line.servers) names.push_back(server.name);
  auto shared = std::make_shared<Shared>();
  {
    absl::MutexLock lock(&shared->mu);
    shared->servers.resize(count);
    shared->tasks.resize(count);
    shared->attached.resize(count);
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
  std::vector<std::string> starting, running_tasks;  // What was under way when the signal came.
  auto abort_with = [&](int code, std::string message) {
    if (aborting) return;
    aborting = true;
    shared->cancelled.store(true);
    abandon_at = absl::Now() + kAbandonAfter;
    out.exit_code = code;
    out.message = std::move(message);
  };

  enum class State { kWaiting, kRunning, kDone, kFailed };
  std::vector<State> state(count, State::kWaiting);
  std::vector<bool> attaching(count, false);  // Running: an attach, not a start.
  std::vector<std::thread> threads(count);
  // Every server's (started or attached) once it is up, by its index.
  std::vector<std::optional<ServerAddresses>> addresses(count);
  std::vector<Fixture> started;  // In the order they became ready.
  // What `i` may know of: its deps' addresses, and theirs, in the graph's order.
  auto addresses_for = [&](size_t i) {
    std::vector<bool> wanted(count, false);
    std::vector<size_t> todo = (*deps)[i];
    while (!todo.empty()) {
      size_t j = todo.back();
      todo.pop_back();
      if (wanted[j]) continue;
      wanted[j] = true;
      todo.insert(todo.end(), (*deps)[j].begin(), (*deps)[j].end());
    }
    std::vector<ServerAddresses> known;
    for (size_t j = 0; j < count; ++j) {
      if (wanted[j] && addresses[j].has_value()) known.push_back(*addresses[j]);
    }
    return known;
  };
  // Starts every entry whose deps are all up, each on a thread of its own.
  auto start_what_can = [&] {
    for (size_t i = 0; i < count && !aborting; ++i) {
      if (state[i] != State::kWaiting) continue;
      if (!std::all_of((*deps)[i].begin(), (*deps)[i].end(), [&](size_t d) { return state[d] == State::kDone; })) {
        continue;
      }
      std::vector<ServerAddresses> known = addresses_for(i);
      absl::StatusOr<ServerSpec> resolved = Resolved(line.servers[i], names, known);
      if (!resolved.ok()) return abort_with(kExitUsage, std::string(resolved.status().message()));
      std::optional<std::string> target = resolved->task ? std::nullopt : AttachTarget(resolved->name);
      try {
        if (target.has_value()) {
          threads[i] = std::thread(AttachOne, shared, *resolved, *target, line.ready_timeout, i);
          attaching[i] = true;
        } else if (resolved->task) {
          threads[i] = std::thread(RunOne, shared, *resolved, line.ready_timeout, std::move(known), i);
        } else {
          threads[i] = std::thread(StartOne, shared, OptionsFor(line, *resolved), i);
        }
        state[i] = State::kRunning;
      } catch (const std::system_error& error) {
        return abort_with(kExitServerFailed, absl::StrCat(resolved->task ? "task \"" : "server \"", resolved->name,
                                                          "\" did not start: cannot create a thread: ", error.what(),
                                                          ResourceAdvice(error.what())));
      }
    }
  };
  auto running = [&] { return std::count(state.begin(), state.end(), State::kRunning); };

  start_what_can();
  while (running() > 0) {
    if (aborting) {
      // Every child that is not a started server's belongs to a start or a
      // task under way (or is an orphan one left): its death ends that
      // Start() or task at once. (A started server whose pid cannot be told,
      // before Linux 5.10, is killed too: stopped less gracefully, but
      // stopped.)
      std::vector<pid_t> known;
      for (const Fixture& server : started) known.push_back(PidOfPidfd(server.exit_fd()));
      {
        absl::MutexLock lock(&shared->mu);  // Ready, not collected yet: stopped below, not killed.
        for (const auto& result : shared->servers) {
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
    for (int sig : signals.Read().stops) {
      if (aborting) continue;
      stop_signal = sig;
      for (size_t i = 0; i < count; ++i) {
        if (state[i] == State::kRunning) (line.servers[i].task ? running_tasks : starting).push_back(names[i]);
      }
      abort_with(128 + sig, "");
    }
    uint64_t ignored;
    while (read(shared->done.get(), &ignored, sizeof ignored) > 0) {
    }
    {
      absl::MutexLock lock(&shared->mu);
      for (size_t i = 0; i < count; ++i) {
        if (state[i] != State::kRunning) continue;
        if (attaching[i]) {
          if (!shared->attached[i].has_value()) continue;
          absl::StatusOr<ServerAddresses> attached = *std::move(shared->attached[i]);
          if (!attached.ok()) {
            state[i] = State::kFailed;
            abort_with(absl::IsInvalidArgument(attached.status()) ? kExitUsage : kExitUnavailable,
                       std::string(attached.status().message()));
            continue;
          }
          state[i] = State::kDone;
          addresses[i] = *std::move(attached);
          continue;
        }
        if (line.servers[i].task) {
          if (!shared->tasks[i].has_value()) continue;
          absl::Status ran = *std::move(shared->tasks[i]);
          state[i] = ran.ok() ? State::kDone : State::kFailed;
          if (!ran.ok()) {
            abort_with(absl::IsNotFound(ran) || absl::IsPermissionDenied(ran) ? kExitNoServerBinary : kExitServerFailed,
                       std::string(ran.message()));
          }
          continue;
        }
        if (!shared->servers[i].has_value()) continue;
        absl::StatusOr<Fixture> result = *std::move(shared->servers[i]);
        shared->servers[i].reset();
        if (!result.ok()) {
          state[i] = State::kFailed;
          std::string message(result.status().message());
          abort_with(StartFailureExitCode(result.status()),
                     absl::StrCat("server \"", names[i], "\" did not start: ", message, ResourceAdvice(message)));
          continue;
        }
        state[i] = State::kDone;
        if (absl::Status endpoint_names = CheckEndpointNames(*result); !endpoint_names.ok()) {
          abort_with(kExitServerFailed, std::string(endpoint_names.message()));
        }
        addresses[i] = AddressesOf(*result);
        started.push_back(*std::move(result));
      }
    }
    start_what_can();
  }
  // Every start and task has returned (or is abandoned): join what ended.
  std::vector<std::string> abandoned, abandoned_tasks;
  for (size_t i = 0; i < count; ++i) {
    if (!threads[i].joinable()) continue;
    if (state[i] != State::kRunning) {
      threads[i].join();
    } else {
      threads[i].detach();
      (line.servers[i].task ? abandoned_tasks : abandoned).push_back(names[i]);
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
  if (!aborting) {
    for (size_t i = 0; i < count; ++i) {
      if (addresses[i].has_value()) out.addresses.push_back(*std::move(addresses[i]));
    }
    out.servers = std::move(started);
    return out;
  }
  // Aborted: stop what is up, dependents first (a server killed in the race
  // between its ready and our look is reaped the same way).
  for (auto it = started.rbegin(); it != started.rend(); ++it) it->Stop().IgnoreError();
  started.clear();
  if (stop_signal != 0) {
    const std::string cmd = line.cmd.empty() ? "CMD" : line.cmd[0];
    std::vector<std::string> under_way;
    if (!starting.empty()) under_way.push_back(absl::StrCat("during the start of ", ServerList(starting)));
    if (!running_tasks.empty()) {
      under_way.push_back(absl::StrCat("while ", TaskList(running_tasks),
                                       running_tasks.size() == 1 ? " ran; killed it" : " ran; killed them"));
    }
    out.message =
        under_way.empty()
            ? absl::StrCat(fixture::SignalName(stop_signal),
                           " arrived after the servers started, before CMD ran; stopped them and did not run ", cmd)
            : absl::StrCat(fixture::SignalName(stop_signal), " arrived ", absl::StrJoin(under_way, " and "),
                           "; stopped the servers and did not run ", cmd);
  }
  if (!abandoned.empty() || !abandoned_tasks.empty()) {
    out.abandoned = true;
    std::vector<std::string> what;
    if (!abandoned.empty()) what.push_back(absl::StrCat("the start of ", ServerList(abandoned)));
    if (!abandoned_tasks.empty()) what.push_back(TaskList(abandoned_tasks));
    absl::StrAppend(&out.message, "\n(", absl::StrJoin(what, " and "), " did not end within ",
                    absl::FormatDuration(kAbandonAfter),
                    " of the kill of its process; fixturectl does not wait for it)");
  }
  return out;
}

}  // namespace fixturectl
