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

#include <sys/resource.h>
#include <sys/types.h>

#include "absl/status/statusor.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/unique_fd.h"

namespace fixture {

// A pidfd of `pid` (pidfd_open(2) with `flags`, e.g. PIDFD_NONBLOCK), or an
// empty UniqueFd with errno set (ESRCH: no such process; ENOSYS: a kernel
// before 5.3; EINVAL: a flag this kernel does not know).
UniqueFd OpenPidfd(pid_t pid, unsigned flags = 0);

// pidfd_send_signal(2): 0, or -1 with errno set.
int SendSignal(int pidfd, int signal);

// Waits for the direct child `pid` to exit (blocking, EINTR retried) and
// collects it; with `usage`, also its resource usage (wait4(2)). The errno
// text when it fails (ECHILD: not our child, or reaped already).
absl::StatusOr<ExitInfo> Reap(pid_t pid, struct rusage* usage = nullptr);

// SIGKILL to the direct child `pid` (by pid: for a child without a pidfd),
// then Reap(). How it ended, or the errno text.
absl::StatusOr<ExitInfo> KillAndReap(pid_t pid);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_PIDFD_H_
