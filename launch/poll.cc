#include "fixture/launch/poll.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/launch/errno_status.h"

namespace fixture {

absl::StatusOr<int> PollAnyReadable(const std::vector<int>& fds, absl::Time deadline, absl::string_view what) {
  std::vector<struct pollfd> pfds;
  pfds.reserve(fds.size());
  for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
  for (;;) {
    // Recomputed after an EINTR; nullptr waits forever.
    struct timespec left;
    if (deadline != absl::InfiniteFuture()) {
      left = absl::ToTimespec(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    }
    int ready = ppoll(pfds.data(), pfds.size(), deadline == absl::InfiniteFuture() ? nullptr : &left, nullptr);
    if (ready == 0) return -1;
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("poll(", what, ")"));
    }
    for (size_t i = 0; i < pfds.size(); ++i) {
      if (pfds[i].revents != 0) return static_cast<int>(i);
    }
  }
}

absl::StatusOr<bool> PollReadable(int fd, absl::Time deadline, absl::string_view what) {
  absl::StatusOr<int> ready = PollAnyReadable({fd}, deadline, what);
  if (!ready.ok()) return ready.status();
  return *ready == 0;
}

}  // namespace fixture
