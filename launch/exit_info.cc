#include "fixture/launch/exit_info.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace fixture {

std::string SignalName(int signal) {
  const char* name = sigabbrev_np(signal);
  return name != nullptr ? absl::StrCat("SIG", name) : absl::StrCat("signal ", signal);
}

std::optional<int> SignalNumber(absl::string_view name) {
  int number = 0;
  if (absl::SimpleAtoi(name, &number)) {
    if (number > 0 && number < NSIG) return number;
    return std::nullopt;
  }
  std::string upper = absl::AsciiStrToUpper(name);
  absl::string_view bare = upper;
  absl::ConsumePrefix(&bare, "SIG");
  for (int signal = 1; signal < NSIG; ++signal) {
    const char* abbrev = sigabbrev_np(signal);
    if (abbrev != nullptr && bare == abbrev) return signal;
  }
  return std::nullopt;
}

std::string ExitInfo::ToString() const {
  if (!status_known) return "ended (not a child of this process: its exit status is not known)";
  if (!signaled) return absl::StrCat("exited with status ", code);
  return absl::StrCat("killed by signal ", signal, " (", SignalName(signal), core_dumped ? ", core dumped" : "", ")");
}

ExitInfo ExitInfo::StatusNotKnown(pid_t pid) {
  ExitInfo info;
  info.pid = pid;
  info.status_known = false;
  return info;
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
