// PollTimeoutMs: an absolute deadline as the timeout poll(2) takes.
//
//   int ready = poll(&pfd, 1, PollTimeoutMs(deadline));
#ifndef FIXTURE_LAUNCH_DEADLINE_H_
#define FIXTURE_LAUNCH_DEADLINE_H_

#include <algorithm>
#include <climits>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fixture {

// Milliseconds from now until `deadline`, rounded up (so that a wake-up is
// never early), at least 0 and at most INT_MAX; -1 (wait forever) for
// absl::InfiniteFuture().
inline int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), INT_MAX));
}

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_DEADLINE_H_
