#include "tests/any_server/wire_client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/socket_path.h"
#include "fixture/launch/unique_fd.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture::testing {
namespace {

absl::StatusOr<UniqueFd> Connect(absl::string_view address) {
  if (absl::StartsWith(address, "unix:")) return ConnectUnix(UnixSocketPath(address));
  std::pair<std::string, std::string> host_port = absl::StrSplit(address, absl::MaxSplits(':', 1));
  int port = 0;
  struct sockaddr_in to = {};
  to.sin_family = AF_INET;
  if (!absl::SimpleAtoi(host_port.second, &port) || inet_pton(AF_INET, host_port.first.c_str(), &to.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not host:port: ", address));
  }
  to.sin_port = htons(port);
  UniqueFd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoStatus(errno, "socket(AF_INET)");
  if (connect(sock.get(), reinterpret_cast<struct sockaddr*>(&to), sizeof to) != 0) {
    return ErrnoStatus(errno, absl::StrCat("connect(", address, ")"));
  }
  return sock;
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "write");
    data.remove_prefix(n);
  }
  return absl::OkStatus();
}

// Reads until `done(so_far)` or EOF or the deadline.
template <typename Done>
absl::StatusOr<std::string> ReadUntil(int fd, absl::Time deadline, Done done) {
  std::string got;
  char buffer[4096];
  while (!done(got)) {
    absl::StatusOr<bool> readable = PollReadable(fd, deadline, "reply socket");
    if (!readable.ok()) return readable.status();
    if (!*readable) return absl::DeadlineExceededError(absl::StrCat("no full reply in time; got \"", got, "\""));
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read");
    if (n == 0) break;
    got.append(buffer, n);
  }
  return got;
}

}  // namespace

absl::StatusOr<std::string> RedisCommand(absl::string_view address, const std::vector<std::string>& command,
                                         absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<UniqueFd> sock = Connect(address);
  if (!sock.ok()) return sock.status();
  std::string request = absl::StrCat("*", command.size(), "\r\n");
  for (const std::string& part : command) absl::StrAppend(&request, "$", part.size(), "\r\n", part, "\r\n");
  if (absl::Status sent = WriteAll(sock->get(), request); !sent.ok()) return sent;
  // A reply is one line, or for a bulk string ("$N") two.
  auto complete = [](const std::string& got) {
    size_t first = got.find("\r\n");
    if (first == std::string::npos) return false;
    if (got[0] != '$' || absl::StartsWith(got, "$-1")) return true;
    return got.find("\r\n", first + 2) != std::string::npos;
  };
  absl::StatusOr<std::string> reply = ReadUntil(sock->get(), deadline, complete);
  if (!reply.ok()) return reply.status();
  std::vector<std::string> lines = absl::StrSplit(*reply, "\r\n", absl::SkipEmpty());
  return absl::StrJoin(lines, "\n");
}

absl::StatusOr<HttpReply> HttpGet(absl::string_view address, absl::string_view path, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<UniqueFd> sock = Connect(address);
  if (!sock.ok()) return sock.status();
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", address, "\r\n\r\n");
  if (absl::Status sent = WriteAll(sock->get(), request); !sent.ok()) return sent;
  absl::StatusOr<std::string> reply = ReadUntil(sock->get(), deadline, [](const std::string&) { return false; });
  if (!reply.ok()) return reply.status();
  // "HTTP/1.0 200 OK\r\n...\r\n\r\nbody"
  const std::string first_line = reply->substr(0, reply->find("\r\n"));
  std::vector<absl::string_view> status_line = absl::StrSplit(first_line, ' ');
  HttpReply out;
  if (status_line.size() < 2 || !absl::StartsWith(status_line[0], "HTTP/") ||
      !absl::SimpleAtoi(status_line[1], &out.status)) {
    return absl::DataLossError(absl::StrCat("not an HTTP reply: \"", reply->substr(0, 80), "\""));
  }
  size_t body = reply->find("\r\n\r\n");
  if (body != std::string::npos) out.body = reply->substr(body + 4);
  return out;
}

}  // namespace fixture::testing
