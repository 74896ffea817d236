#include "fixture/server/own_listening_sockets.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fixture/launch/errno_status.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture::server {
namespace {

// `fd` as a ListeningSocket (its local address), if it is a named socket
// that listens (`listening`), or one that does not (an accepted connection
// has its listener's local address).
bool Describe(int fd, bool listening, ListeningSocket* socket) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  int accepts = 0, domain = 0;
  socklen_t length = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepts, &length) != 0 || (accepts != 0) != listening) return false;
  length = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0) return false;
  sockaddr_storage address = {};
  length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  socket->inode = st.st_ino;
  switch (domain) {
    case AF_INET:
    case AF_INET6: {
      const bool v6 = domain == AF_INET6;
      const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
      const std::string host = v6 ? TcpHost(&in6->sin6_addr, true) : TcpHost(&in->sin_addr, false);
      if (host.empty()) return false;
      socket->kind = v6 ? ListeningSocket::Kind::kTcp6 : ListeningSocket::Kind::kTcp4;
      socket->port = ntohs(v6 ? in6->sin6_port : in->sin_port);
      socket->address = absl::StrCat(host, ":", socket->port);
      return true;
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&address);
      const size_t path_length =
          length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
      if (path_length == 0) return false;  // Unnamed.
      socket->kind = ListeningSocket::Kind::kUnix;
      socket->port = 0;
      if (un->sun_path[0] == '\0') {  // Abstract: NULs shown as '@', as /proc/net/unix does.
        std::string name(un->sun_path + 1, path_length - 1);
        std::replace(name.begin(), name.end(), '\0', '@');
        socket->address = "unix-abstract:" + name;
      } else {
        socket->address = absl::StrCat("unix:", std::string(un->sun_path, strnlen(un->sun_path, path_length)));
      }
      return true;
    }
    default:
      return false;
  }
}

// Calls `visit(fd, socket)` for each descriptor of this process that
// Describe()s with `listening`, once per socket however many descriptors
// refer to it.
absl::Status ForEachOwnSocket(bool listening, const std::function<void(int, ListeningSocket)>& visit) {
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return ErrnoStatus(errno, "opendir(/proc/self/fd)");
  absl::flat_hash_set<uint64_t> seen;
  while (struct dirent* entry = readdir(fds)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == dirfd(fds)) continue;
    ListeningSocket socket;
    if (!Describe(fd, listening, &socket) || !seen.insert(socket.inode).second) continue;
    visit(fd, std::move(socket));
  }
  closedir(fds);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ListeningSocket>> OwnListeningSockets() {
  std::vector<ListeningSocket> tcp4, tcp6, unix_sockets;
  absl::Status listed = ForEachOwnSocket(/*listening=*/true, [&](int, ListeningSocket socket) {
    switch (socket.kind) {
      case ListeningSocket::Kind::kTcp4:
        tcp4.push_back(std::move(socket));
        break;
      case ListeningSocket::Kind::kTcp6:
        tcp6.push_back(std::move(socket));
        break;
      case ListeningSocket::Kind::kUnix:
        unix_sockets.push_back(std::move(socket));
        break;
    }
  });
  if (!listed.ok()) return listed;
  std::vector<ListeningSocket> sockets = std::move(tcp4);
  sockets.insert(sockets.end(), tcp6.begin(), tcp6.end());
  sockets.insert(sockets.end(), unix_sockets.begin(), unix_sockets.end());
  return sockets;
}

absl::StatusOr<int> ShutDownAcceptedConnections(const std::vector<ListeningSocket>& listeners) {
  int closed = 0;
  absl::Status listed = ForEachOwnSocket(/*listening=*/false, [&](int fd, ListeningSocket socket) {
    const bool accepted_on_one = std::any_of(listeners.begin(), listeners.end(), [&](const ListeningSocket& listener) {
      if (socket.kind == ListeningSocket::Kind::kUnix || listener.kind == ListeningSocket::Kind::kUnix) {
        return socket.kind == listener.kind && socket.address == listener.address;
      }
      return socket.port == listener.port;  // A wildcard listener accepts on any address.
    });
    if (!accepted_on_one) return;
    sockaddr_storage peer = {};
    socklen_t length = sizeof(peer);
    // Connected (not a socket merely bound to the port, as a reservation is).
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return;
    if (shutdown(fd, SHUT_RDWR) == 0) ++closed;
  });
  if (!listed.ok()) return listed;
  return closed;
}

}  // namespace fixture::server
