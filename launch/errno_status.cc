#include "fixture/launch/errno_status.h"

#include <string.h>

#include "absl/strings/str_cat.h"

namespace fixture {

absl::Status ErrnoStatus(int error, absl::string_view call) {
  char buffer[256];
  // GNU strerror_r returns the message, which may not be `buffer`.
  const char* text = ::strerror_r(error, buffer, sizeof buffer);
  return absl::Status(absl::ErrnoToStatusCode(error), absl::StrCat(call, ": ", text));
}

}  // namespace fixture
