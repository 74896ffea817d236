// `fixturectl run`: the servers up for the length of one command.
//
// Run() checks that enough file descriptors are free (fixturectl_limits.h),
// blocks the stop signals (fixturectl_signals.h), becomes a child subreaper
// (fixturectl_children.h), starts every --server as a fixture::Fixture, all
// at once, and waits until each is ready (fixturectl_starts.h: a stop signal
// or a failure meanwhile aborts the start within milliseconds, and CMD never
// runs), runs CMD in a process group of its own (fixturectl_command.h) with
// the servers' addresses in its environment (fixturectl_env.h), forwards the
// stop signals fixturectl gets to CMD's group and, if CMD has not exited
// --kill_after later, kills the group with SIGKILL; reports each server that
// dies meanwhile, stops the servers when CMD ends, ends and reaps every
// process left behind, and exits with CMD's status.
#ifndef FIXTURE_TOOLS_FIXTURECTL_RUN_H_
#define FIXTURE_TOOLS_FIXTURECTL_RUN_H_

#include "fixture/tools/fixturectl_env.h"
#include "fixture/tools/fixturectl_flags.h"
#include "fixture/tools/fixturectl_starts.h"

namespace fixturectl {

// Runs `line` (command "run") to the end; fixturectl's exit status: CMD's
// (128+N if it died of signal N), else one of fixturectl_exit_codes.h (128+N
// for a stop signal N before CMD ran, or one CMD did not survive only
// because fixturectl escalated to SIGKILL), with the reason on stderr. Ends
// the process with _exit() instead of returning when a server's start could
// not be ended (Starts::abandoned).
int Run(const CommandLine& line);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_RUN_H_
