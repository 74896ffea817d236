#include "launch/socket_path.h"

#include "absl/strings/strip.h"

namespace fixture {

std::string UnixSocketPath(absl::string_view target) {
  if (absl::ConsumePrefix(&target, "unix://") || absl::ConsumePrefix(&target, "unix:")) return std::string(target);
  return "";
}

}  // namespace fixture
