#include "tools/fixturectl_limits.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "launch/unique_fd.h"

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
      return absl::ResourceExhaustedError(absl::StrCat(
          "too few file descriptors: ", what, " needs ", needed, " free, but only ", held.size(),
          " could be opened (ulimit -n is ", Limit(RLIMIT_NOFILE), "): ", call, ResourceAdvice(call)));
    }
    held.push_back(std::move(fd));
  }
  return absl::OkStatus();
}

std::string ResourceAdvice(absl::string_view message) {
  if (absl::StrContains(message, strerror(EMFILE))) {
    return absl::StrCat(" (EMFILE); the limit on open files is reached: raise it (ulimit -n, now ",
                        Limit(RLIMIT_NOFILE), "; e.g. ulimit -n 1024) and run again");
  }
  if (absl::StrContains(message, strerror(ENFILE))) {
    return " (ENFILE); the system's table of open files is full: end some processes, or raise fs.file-max";
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
