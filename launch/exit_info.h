// ExitInfo: how a process ended, as waitpid(2) reports it, or that it ended
// with a status no one here can know (a process that is not a child of this
// one, such as a daemon a wrapper handed over to by sd_notify's MAINPID=).
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
  // False: the process has ended, but not as a child of this process, so
  // its status was not reported here; `signaled`, `code` and `signal` say
  // nothing then.
  bool status_known = true;

  // Exited with status 0 (never when the status is not known).
  bool success() const { return status_known && !signaled && code == 0; }
  // "exited with status 3", "killed by signal 6 (SIGABRT, core dumped)" or
  // "ended (not a child of this process: its exit status is not known)".
  std::string ToString() const;

  static ExitInfo FromWaitStatus(pid_t pid, int wait_status);
  // Process `pid` has ended, its status not known (see status_known).
  static ExitInfo StatusNotKnown(pid_t pid);
};

// "SIGTERM" for 15; "signal 99" for a number without a name.
std::string SignalName(int signal);

// The signal `name` names: "SIGTERM", "TERM" or "15" (case-insensitive).
// nullopt for anything else, or a number outside 1..NSIG-1.
std::optional<int> SignalNumber(absl::string_view name);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_EXIT_INFO_H_
