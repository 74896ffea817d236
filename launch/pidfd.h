// Process handles without races: pidfds (pidfd_open(2), pidfd_send_signal(2))
// and the one waitpid(2) loop of the toolkit.
//
// A pidfd names one process for good: a signal sent through it can never hit
// another process that reused the pid, and it polls readable once the
// process has exited (launch/poll.h), so nothing waits by polling /proc.
//
//   UniqueFd pidfd = OpenPidfd(pid);
//   SendSignal(pidfd.get(), SIGTERM);
//   absl::StatusOr<ExitInfo> exit = Reap(pid);  // a direct child
#ifndef FIXTURE_LAUNCH_PIDFD_H_
#define FIXTURE_LAUNCH_PIDFD_H_

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "launch/exit_info.h"
#include "launch/unique_fd.h"

namespace fixture {

// A pidfd of `pid`, or an empty UniqueFd with errno set (ESRCH: no such
// process; ENOSYS: a kernel before 5.3).
UniqueFd OpenPidfd(pid_t pid);

// pidfd_send_signal(2): 0, or -1 with errno set.
int SendSignal(int pidfd, int signal);

// Waits for the direct child `pid` to exit (blocking, EINTR retried) and
// collects it. The errno text of waitpid(2) when it fails (ECHILD: not our
// child, or reaped already).
absl::StatusOr<ExitInfo> Reap(pid_t pid);

// SIGKILL to the direct child `pid` (by pid: for a child without a pidfd),
// then Reap(). How it ended, or the errno text.
absl::StatusOr<ExitInfo> KillAndReap(pid_t pid);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_PIDFD_H_
