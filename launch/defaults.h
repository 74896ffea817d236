// The toolkit's defaults, in one place: the parent's options, the server's
// run options and fixturectl's flags all start from these (tools/defs.bzl and
// tools/python/fixture_client.py repeat them, and say so).
#ifndef FIXTURE_LAUNCH_DEFAULTS_H_
#define FIXTURE_LAUNCH_DEFAULTS_H_

#include "absl/time/time.h"

namespace fixture {

// Grace period for in-flight RPCs when a server is stopped.
inline constexpr absl::Duration kDefaultGrace = absl::Milliseconds(200);
// How long a server may take from fork to ready.
inline constexpr absl::Duration kDefaultReadyTimeout = absl::Seconds(10);
// Lines of a child's stderr quoted in errors.
inline constexpr int kDefaultStderrTailLines = 20;

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_DEFAULTS_H_
