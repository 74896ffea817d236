#include "fixture/tools/fixturectl_limits.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "fixture/launch/unique_fd.h"

namespace fixturectl {
namespace {

// "1024", or "unlimited".
std::string Limit(int resource) {
  struct rlimit limit;
  if (getrlimit(resource, &limit) != 0) return "unknown";
  if (limit.rlim_cur == RLIM_INFINITY) return "unlimited";
  return absl::StrCat(limit.rlim_cur);
}

}  // namespace

absl::Status CheckDescriptors(int needed, absl::string_view what) {
  std::vector<fixture::UniqueFd> held;
  held.reserve(needed);
  while (static_cast<int>(held.size()) < needed) {
    fixture::UniqueFd fd(eventfd(0, EFD_CLOEXEC));
    if (!fd) {
      int error = errno;
      std::string call = absl::StrCat("eventfd(): ", strerror(error));
      return absl::ResourceExhaustedError(
          absl::StrCat("too few file descriptors: ", what, " needs ", needed, " free, but only ", held.size(),
                       " could be opened (ulimit -n is ", Limit(RLIMIT_NOFILE), "): ", call, ResourceAdvice(call)));
    }
    held.push_back(std::move(fd));
  }
  return absl::OkStatus();
}

absl::Status CheckThreads(int needed, absl::string_view what) {
  absl::Notification go;
  std::vector<std::thread> threads;
  threads.reserve(needed);
  std::string error;
  while (static_cast<int>(threads.size()) < needed) {
    try {
      threads.emplace_back([&go] { go.WaitForNotification(); });
    } catch (const std::system_error& failed) {
      error = absl::StrCat("cannot create a thread: ", failed.what());
      break;
    }
  }
  const int started = static_cast<int>(threads.size());
  go.Notify();
  for (std::thread& thread : threads) thread.join();
  if (error.empty()) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("too few threads: ", what, " needs ", needed, ", but only ", started,
                                                   " could be started (ulimit -u is ", Limit(RLIMIT_NPROC),
                                                   "): ", error, ResourceAdvice(error)));
}

std::string ResourceAdvice(absl::string_view message) {
  // ENFILE first: its text ("... in system") contains EMFILE's.
  if (absl::StrContains(message, strerror(ENFILE))) {
    return " (ENFILE); the system's table of open files is full: end some processes, or raise fs.file-max";
  }
  if (absl::StrContains(message, strerror(EMFILE))) {
    return absl::StrCat(" (EMFILE); the limit on open files is reached: raise it (ulimit -n, now ",
                        Limit(RLIMIT_NOFILE), "; e.g. ulimit -n 1024) and run again");
  }
  if (absl::StrContains(message, strerror(EAGAIN))) {
    return absl::StrCat(
        " (EAGAIN); the limit on processes and threads is reached: raise it (ulimit -u, now ", Limit(RLIMIT_NPROC),
        "), or end some processes (the system's own limits: kernel.threads-max, kernel.pid_max, a pids cgroup)");
  }
  if (absl::StrContains(message, strerror(ENOMEM))) {
    return absl::StrCat(" (ENOMEM); out of memory, or of address space (ulimit -v, now ", Limit(RLIMIT_AS), ")");
  }
  return "";
}

}  // namespace fixturectl
