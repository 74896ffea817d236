#include "fixture/launch/pidfd.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "fixture/launch/errno_status.h"

namespace fixture {

UniqueFd OpenPidfd(pid_t pid, unsigned flags) {
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, flags)));
}

int SendSignal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

absl::StatusOr<ExitInfo> Reap(pid_t pid, struct rusage* usage) {
  int status = 0;
  pid_t reaped;
  do {
    reaped = wait4(pid, &status, 0, usage);
  } while (reaped < 0 && errno == EINTR);
  if (reaped < 0) return ErrnoStatus(errno, absl::StrCat("wait4(", pid, ")"));
  return ExitInfo::FromWaitStatus(pid, status);
}

absl::StatusOr<ExitInfo> KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  return Reap(pid);
}

}  // namespace fixture
