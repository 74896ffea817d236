#include "launch/poll.h"

#include <errno.h>
#include <poll.h>

#include "absl/strings/str_cat.h"
#include "launch/deadline.h"
#include "launch/errno_status.h"

namespace fixture {

absl::StatusOr<bool> PollReadable(int fd, absl::Time deadline, absl::string_view what) {
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int ready = poll(&pfd, 1, PollTimeoutMs(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno == EINTR) continue;
    return ErrnoStatus(errno, absl::StrCat("poll(", what, ")"));
  }
}

}  // namespace fixture
