// ExitInfo: how a process ended, as waitpid(2) reports it.
//
//   ExitInfo exit = ExitInfo::FromWaitStatus(pid, status);
//   if (!exit.success()) Report(exit.ToString());  // "killed by signal 6 (SIGABRT)"
#ifndef FIXTURE_LAUNCH_EXIT_INFO_H_
#define FIXTURE_LAUNCH_EXIT_INFO_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace fixture {

struct ExitInfo {
  pid_t pid = -1;
  // True: killed by `signal`; false: exited with `code`.
  bool signaled = false;
  int code = 0;
  int signal = 0;
  bool core_dumped = false;

  bool success() const { return !signaled && code == 0; }
  // "exited with status 3" or "killed by signal 6 (SIGABRT, core dumped)".
  std::string ToString() const;

  static ExitInfo FromWaitStatus(pid_t pid, int wait_status);
};

// "SIGTERM" for 15; "signal 99" for a number without a name.
std::string SignalName(int signal);

// The signal `name` names: "SIGTERM", "TERM" or "15" (case-insensitive).
// nullopt for anything else, or a number outside 1..NSIG-1.
std::optional<int> SignalNumber(absl::string_view name);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_EXIT_INFO_H_
