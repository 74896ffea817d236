// PollReadable: wait until one descriptor is readable or a deadline passes.
//
// The one poll(2) loop of the toolkit (ppoll(2): EINTR retried, the deadline
// kept to the nanosecond, never early), for pipes, pidfds and sockets alike.
// Sub-millisecond waits are real: the polled readiness strategies back off
// from 200 us.
//
//   absl::StatusOr<bool> readable = PollReadable(pidfd, deadline, "pidfd of pid 42");
//   if (!readable.ok()) return readable.status();  // "poll(pidfd of pid 42): ..."
//   if (!*readable) ...                             // the deadline passed
#ifndef FIXTURE_LAUNCH_POLL_H_
#define FIXTURE_LAUNCH_POLL_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fixture {

// True once `fd` polls readable (POLLIN, or POLLHUP/POLLERR: a read will not
// block), false when `deadline` passes first. The errno text of poll(2),
// naming `what`, when it fails.
absl::StatusOr<bool> PollReadable(int fd, absl::Time deadline, absl::string_view what);

// The same for several descriptors: the index in `fds` of the first that
// polls readable (negative entries are skipped), -1 when `deadline` passes.
absl::StatusOr<int> PollAnyReadable(const std::vector<int>& fds, absl::Time deadline, absl::string_view what);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_POLL_H_
