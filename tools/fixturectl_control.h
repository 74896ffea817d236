// fixturectl's control commands: one call (or stream) on a running server's
// FixtureControl service (proto/control.proto) at --control=ADDR.
//
//   status      GetStatus, printed as text (--json: as JSON)
//   wait-ready  WaitReady within --timeout; prints "ready: pid N"
//   shutdown    Shutdown with --grace, then waits up to --timeout for the
//               process to be gone; prints "pid N stopped"
//   watch       Watch; prints "<RFC 3339 time> <STATE>" for each change
//   fault       InjectFault from --method, --code, --delay, --rate/--count,
//               --seed, --metadata, --message; prints "fault N"
//   faults      ListFaults; one line per fault (fixturectl_faults.h), or
//               --json
//   clear-faults  ClearFaults --id=N, or all; prints "cleared N"
//   drop-connections  DropConnections --refuse_for=D: closes the clients'
//               connections (and refuses calls for D); prints "closed N"
//   reset       Reset: the server's reset hook, then its call counts and
//               faults cleared; prints "reset: N faults cleared"
//
// A missing --control is bad usage (kExitUsage); a Unix socket that does not
// exist, or a call nobody answers, is kExitUnavailable; a deadline passed is
// kExitTimeout; a fault the server refuses (INVALID_ARGUMENT) is
// kExitUsage, an unknown fault id kExitNoSuchFault; any other failed call
// (a Reset refused: no hook, not SERVING, the hook failed) kExitOther
// (fixturectl_exit_codes.h).
#ifndef FIXTURE_TOOLS_FIXTURECTL_CONTROL_H_
#define FIXTURE_TOOLS_FIXTURECTL_CONTROL_H_

#include "absl/strings/string_view.h"
#include "fixture/tools/fixturectl_flags.h"

namespace fixturectl {

// True for "status", "wait-ready", "shutdown", "watch", "fault", "faults",
// "clear-faults", "drop-connections" and "reset".
bool IsControlCommand(absl::string_view command);

// Connects to `line.control` and runs the control command `line.command`
// (IsControlCommand() must hold); fixturectl's exit status, the reason on
// stderr when it is not 0.
int RunControlCommand(const CommandLine& line);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_CONTROL_H_
