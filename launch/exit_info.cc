#include "launch/exit_info.h"

#include <string.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"

namespace fixture {

std::string SignalName(int signal) {
  const char* name = sigabbrev_np(signal);
  return name != nullptr ? absl::StrCat("SIG", name) : absl::StrCat("signal ", signal);
}

std::string ExitInfo::ToString() const {
  if (!signaled) return absl::StrCat("exited with status ", code);
  const char* name = sigabbrev_np(signal);
  return absl::StrCat("killed by signal ", signal, " (", name ? absl::StrCat("SIG", name) : "unknown",
                      core_dumped ? ", core dumped" : "", ")");
}

ExitInfo ExitInfo::FromWaitStatus(pid_t pid, int wait_status) {
  ExitInfo info;
  info.pid = pid;
  if (WIFSIGNALED(wait_status)) {
    info.signaled = true;
    info.signal = WTERMSIG(wait_status);
    info.core_dumped = WCOREDUMP(wait_status);
  } else {
    info.code = WEXITSTATUS(wait_status);
  }
  return info;
}

}  // namespace fixture
