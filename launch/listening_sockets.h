// ListeningSockets: the TCP and Unix sockets a process listens on, read from
// /proc.
//
// A server told to bind port 0 (or one that picks its own Unix socket path)
// does not say where it ended up; the kernel does. This matches the socket
// inodes in /proc/<pid>/fd against the listening entries of the process's
// network namespace (/proc/<pid>/net/tcp, tcp6 and unix), so it works for
// any process of the same user, whatever language it is written in, without
// its cooperation.
//
//   absl::StatusOr<std::vector<ListeningSocket>> sockets = ListeningSockets(server_pid);
//   if (!sockets.ok()) return sockets.status();  // NOT_FOUND once the server has exited
//   for (const ListeningSocket& s : *sockets) {
//     // {kTcp4, "127.0.0.1:41234", 41234}, {kUnix, "unix:/tmp/x/redis.sock", 0}, ...
//   }
#ifndef FIXTURE_LAUNCH_LISTENING_SOCKETS_H_
#define FIXTURE_LAUNCH_LISTENING_SOCKETS_H_

#include <sys/types.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fixture {

// One listening socket of a process.
struct ListeningSocket {
  enum class Kind {
    kTcp4,  // an AF_INET stream socket in state LISTEN
    kTcp6,  // an AF_INET6 stream socket in state LISTEN (dual-stack ones too)
    kUnix,  // an AF_UNIX stream or seqpacket socket that listen(2) was called on
  };
  Kind kind = Kind::kTcp4;
  // A gRPC target that reaches it: "127.0.0.1:PORT", "0.0.0.0:PORT",
  // "[::1]:PORT", "[::]:PORT" (an IPv6 socket bound to an IPv4-mapped
  // address, as gRPC binds "127.0.0.1:PORT", as the IPv4 address:
  // "127.0.0.1:PORT", kind kTcp6); "unix:/path" (the path as it was bound, so
  // relative if the server bound a relative path), "unix-abstract:NAME" for
  // an abstract socket (NAME without the leading NUL; further NULs in it
  // are shown as '@', as the kernel shows them).
  std::string address;
  // The TCP port; 0 for Unix sockets.
  int port = 0;
  // The socket's inode number (as in /proc/<pid>/fd/N -> "socket:[INODE]").
  uint64_t inode = 0;

  friend bool operator==(const ListeningSocket&, const ListeningSocket&) = default;
};

// The host part of a gRPC target for the raw IPv4 (`v6` false: 4 bytes) or
// IPv6 (16 bytes, network order) address: "127.0.0.1", "[::1]", and for an
// IPv4-mapped IPv6 address the IPv4 address ("127.0.0.1"), which is what a
// client dials. Empty if inet_ntop refuses it.
std::string TcpHost(const void* address, bool v6);

// "tcp4", "tcp6", "unix".
absl::string_view KindName(ListeningSocket::Kind kind);

// "tcp6 127.0.0.1:41234 (inode 5678)", for messages and test output.
std::ostream& operator<<(std::ostream& out, const ListeningSocket& socket);

// The sockets process `pid` (0: this process) has open and listens on:
// TCP v4 first, then v6, then Unix, each in the kernel's table order, one
// entry per socket however many descriptors refer to it. Bound sockets that
// do not listen, connected sockets and unnamed Unix sockets are left out.
//
// `pid` may be any process whose /proc/<pid>/fd this process may read: its
// own, or one of the same user that is dumpable (not setuid, no
// PR_SET_DUMPABLE 0). Errors name the /proc path and carry the errno text:
// NOT_FOUND when the process does not exist or exits (a zombie counts as
// exited) while it is read, PERMISSION_DENIED for a process of another user.
// A kernel without IPv6 (no net/tcp6) is not an error.
//
// A snapshot: sockets opened or closed while it reads may or may not be in it.
absl::StatusOr<std::vector<ListeningSocket>> ListeningSockets(pid_t pid);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_LISTENING_SOCKETS_H_
