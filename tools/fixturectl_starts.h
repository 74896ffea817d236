// The servers' start in `fixturectl run`: the graph of --spec and --server
// entries (fixturectl_spec.h), each server as soon as its own deps are up,
// its fixture::Fixture::Start() (which blocks until the server is ready) on a
// thread of its own, and each task likewise, while the calling thread waits,
// with poll(2), on the signalfd and on an eventfd each thread writes when it
// is done. Entries without deps (every --server) all start at once.
//
// A stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) during the start, a start
// that fails, or a server that reports an endpoint name fixturectl cannot
// pass on aborts it within milliseconds: the processes of the starts still
// under way are killed (SIGKILL: fixturectl's children that are not a
// started server's, tasks included; Start() then fails at once, as for any
// server that dies before it is ready), the servers already up are stopped,
// dependents first, and CMD never runs. A Start() is not cancellable otherwise; one that does not end within
// kAbandonAfter of the kill (stuck somewhere other than waiting for its
// child) is left behind, and the caller must end the process with _exit().
//
//   Starts started = StartGraph(line, signals);
//   if (started.exit_code != 0) return Fail(started.exit_code, started.message);
//   Use(started.servers);
#ifndef FIXTURE_TOOLS_FIXTURECTL_STARTS_H_
#define FIXTURE_TOOLS_FIXTURECTL_STARTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/tools/fixturectl_env.h"
#include "fixture/tools/fixturectl_flags.h"
#include "fixture/tools/fixturectl_signals.h"

namespace fixturectl {

// How long an aborted start may take to end after its process was killed.
inline constexpr absl::Duration kAbandonAfter = absl::Seconds(2);

struct Starts {
  // Every server started, all ready (when exit_code is 0), in the order they
  // became ready: a server after its deps.
  std::vector<fixture::Fixture> servers;
  // Every server CMD learns of, started or attached (FIXTURE_<NAME>_ATTACH,
  // fixturectl_attach.h), in the order of the spec and the command line.
  std::vector<ServerAddresses> addresses;
  // Else fixturectl's exit status (128+N for stop signal N), and the message
  // to print; every server is stopped by then.
  int exit_code = 0;
  std::string message;
  // A Start() that did not end was left running on its thread: exit with
  // _exit(), not by returning from main() (static destructors would run
  // under it).
  bool abandoned = false;
};

// The exit status for a failed fixture::Fixture::Start(), from its Failure
// payload and status code: kExitNoServerBinary for a program not found or not
// executable, kExitUsage for a bad option, kExitTimeout for a server not
// ready in time, kExitServerFailed for anything else.
int StartFailureExitCode(const absl::Status& status);

// Starts the graph of `line`'s servers and tasks (deps from a --spec; see
// above). A server or task starts once every one of its deps is up (a
// server ready, a task exited 0), independent ones at once; a server with
// FIXTURE_<NAME>_ATTACH set is not started: its addresses come from there (a
// failure is exit kExitUnavailable). A "{DEP.ENDPOINT}" in a server's args
// and env values is its dep's address by then; a task's environment has the
// addresses of its deps and of theirs (FIXTURE_<NAME>_<ENDPOINT>, as CMD's).
// A server that fails, a task that does not exit 0 within line.ready_timeout
// (its exit status and stderr tail in the message; exit kExitServerFailed),
// or a stop signal ends the start: what was started is stopped, in the
// reverse of the order it became ready. `servers` of the result are in the
// order they became ready (stop them in reverse), `addresses` in `line`'s.
// `signals` must have been created before any thread. A cycle or an unknown
// dep is exit kExitUsage naming it (DepIndices).
Starts StartGraph(const CommandLine& line, SignalWatch& signals);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_STARTS_H_
