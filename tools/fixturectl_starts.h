// The servers' start in `fixturectl run`: every --server at once, each
// fixture::Fixture::Start() (which blocks until the server is ready) on a
// thread of its own, while the calling thread waits, with poll(2), on the
// signalfd and on an eventfd each start writes when it is done.
//
// A stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) during the start, a start
// that fails, or a server that reports an endpoint name fixturectl cannot
// pass on aborts it within milliseconds: the processes of the starts still
// under way are killed (SIGKILL: fixturectl's children that are not a
// started server's; Start() then fails at once, as for any server that dies
// before it is ready), the servers already up are stopped, and CMD never
// runs. A Start() is not cancellable otherwise; one that does not end within
// kAbandonAfter of the kill (stuck somewhere other than waiting for its
// child) is left behind, and the caller must end the process with _exit().
//
//   Starts started = StartServers(line, signals);
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
  // Every server, in the order of the command line, all ready (when
  // exit_code is 0).
  std::vector<fixture::Fixture> servers;
  // StartGraph: every server CMD learns of, started or attached
  // (FIXTURE_<NAME>_ATTACH, fixturectl_attach.h), in start order.
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

// Starts the servers of `line` (see above). `signals` must have been created
// before any thread.
Starts StartServers(const CommandLine& line, SignalWatch& signals);

// Starts the graph of `line`'s servers (fixturectl_spec.h: deps from a
// --spec) wave by wave: each wave's servers at once (StartServers, above),
// once the waves before are ready; in each wave, its tasks one after the
// other once its servers are up. A server with FIXTURE_<NAME>_ATTACH set is
// not started: its addresses come from there (a failure is exit
// kExitUnavailable). A "{DEP.ENDPOINT}" in a server's args and
// env values is its dep's address by then. A server that fails, a task that
// does not exit 0 within line.ready_timeout (its exit status and stderr
// tail in the message; exit kExitServerFailed), or a stop signal ends the
// start: what was started is stopped in reverse order. `servers` of the
// result are in start order (stop them in reverse). Line's servers must
// form no cycle (StartWaves checked them).
Starts StartGraph(const CommandLine& line, SignalWatch& signals);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_STARTS_H_
