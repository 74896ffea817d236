// Fork safety: may this process fork without exec and run code in the child?
//
// A child forked without exec from a process that has ever used gRPC hangs or
// crashes (measured with gRPC 1.51, whatever fork-support settings), and so
// may one forked from a process with other threads (a lock held by another
// thread stays locked forever in the child). The plain fork and the fork
// server's helper are therefore only forked while the process has exactly
// one thread and has never initialised gRPC; otherwise they are refused with
// an error naming the fork server as the way. The unsafe fork is never tried.
//
//   if (absl::Status safe = CheckForkWithoutExecIsSafe(); !safe.ok()) return safe;
#ifndef FIXTURE_LAUNCH_FORK_SAFETY_H_
#define FIXTURE_LAUNCH_FORK_SAFETY_H_

#include "absl/status/status.h"

namespace fixture {

// OK when this process has one thread and has not initialised gRPC (neither
// now, nor through a fixture before). FailedPrecondition saying which of the
// two is not so, and what to do instead, otherwise.
absl::Status CheckForkWithoutExecIsSafe();

// Threads of this process, from /proc/self/status; -1 if unknown.
int ThreadCount();

// Records that this process has used gRPC; the parent calls it before it
// creates a channel, so that a later plain fork is refused even after gRPC
// has shut down again.
void MarkGrpcUsed();

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_FORK_SAFETY_H_
