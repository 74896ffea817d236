#include "fixture/launch/socket_path.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "fixture/launch/errno_status.h"

namespace fixture {

std::string UnixSocketPath(absl::string_view target) {
  if (absl::ConsumePrefix(&target, "unix://") || absl::ConsumePrefix(&target, "unix:")) return std::string(target);
  return "";
}

absl::StatusOr<UniqueFd> ConnectUnix(absl::string_view path) {
  struct sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() > kMaxUnixSocketPath) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path is ", path.size(), " bytes, over ", kMaxUnixSocketPath, ": ", path));
  }
  memcpy(address.sun_path, path.data(), path.size());
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoStatus(errno, "socket(AF_UNIX)");
  while (connect(sock.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, absl::StrCat("connect(", path, ")"));
  }
  return sock;
}

}  // namespace fixture
