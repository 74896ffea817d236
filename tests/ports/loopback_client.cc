#include "tests/ports/loopback_client.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/poll.h"
#include <netinet/in.h>

namespace fixture::testing {

absl::StatusOr<UniqueFd> ConnectLoopback(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return ErrnoStatus(errno, absl::StrCat("connect(127.0.0.1:", port, ")"));
  }
  return fd;
}

absl::StatusOr<std::string> ReadUntilClosed(int fd, absl::Time deadline) {
  std::string reply;
  char buffer[4096];
  for (;;) {
    absl::StatusOr<bool> readable = PollReadable(fd, deadline, "reply");
    if (!readable.ok()) return readable.status();
    if (!*readable) return absl::DeadlineExceededError(absl::StrCat("the reply did not end; so far: ", reply));
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read(reply)");
    if (n == 0) return reply;
    reply.append(buffer, static_cast<size_t>(n));
  }
}

absl::StatusOr<UniqueFd> SendHttpGet(int port) {
  absl::StatusOr<UniqueFd> fd = ConnectLoopback(port);
  if (!fd.ok()) return fd.status();
  constexpr char kRequest[] = "GET / HTTP/1.0\r\n\r\n";
  if (write(fd->get(), kRequest, sizeof kRequest - 1) != static_cast<ssize_t>(sizeof kRequest - 1)) {
    return ErrnoStatus(errno, "write(GET)");
  }
  return fd;
}

}  // namespace fixture::testing
