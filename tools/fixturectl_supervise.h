// fixturectl's supervisor commands: one call on the Supervisor service
// (proto/supervisor.proto) of the `fixturectl run` whose CMD this is, at
// --supervisor=ADDR or $FIXTURE_SUPERVISOR, for the server named after the
// command word.
//
//   restart NAME           Restart; prints "restarted NAME: pid N (was pid M, <how it ended>)"
//   kill NAME [--signal=S] Kill (default SIGKILL); prints "killed NAME: pid N, SIGKILL"
//   pause NAME             Pause; prints "paused NAME: pid N"
//   resume NAME            Resume; prints "resumed NAME: pid N"
//
// Exit statuses (fixturectl_exit_codes.h): kExitUsage without a supervisor
// address or NAME, for a server the run does not have, or a bad --signal;
// kExitUnavailable when nobody answers there (or the run's CMD has ended);
// kExitServerFailed when a restarted server did not start (the message has
// its exit and stderr tail); kExitTimeout when a paused server did not stop
// in time; kExitOther otherwise (a server that has exited, pausing twice).
#ifndef FIXTURE_TOOLS_FIXTURECTL_SUPERVISE_H_
#define FIXTURE_TOOLS_FIXTURECTL_SUPERVISE_H_

#include "absl/strings/string_view.h"
#include "fixture/tools/fixturectl_flags.h"

namespace fixturectl {

// Runs the supervisor command `line.command` (IsSupervisorCommand() of
// fixturectl_flags.h must
// hold) for server `line.target`; fixturectl's exit status, the reason on
// stderr when it is not 0.
int RunSupervisorCommand(const CommandLine& line);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_SUPERVISE_H_
