// ErrnoStatus: an absl::Status from an errno value, naming the failed call.
//
//   if (mkdir(path, 0700) != 0) return ErrnoStatus(errno, "mkdir(" + path + ")");
//   // -> NOT_FOUND: mkdir(/x/y): No such file or directory
#ifndef FIXTURE_LAUNCH_ERRNO_STATUS_H_
#define FIXTURE_LAUNCH_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fixture {

// The code follows absl::ErrnoToStatusCode(error); the message is
// "<call>: <strerror text>".
absl::Status ErrnoStatus(int error, absl::string_view call);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_ERRNO_STATUS_H_
