// OwnListeningSockets: the sockets this process listens on, asked of the
// sockets themselves, and the connections accepted on them. Internal to
// server/.
//
// launch/listening_sockets.h answers the same for any process by matching
// /proc/<pid>/fd against /proc/<pid>/net/tcp, tcp6 and unix; reading those
// tables makes the kernel walk its whole TCP hash, ~5 ms a table on this
// project's machine even with two sockets listed, so ~10 ms a call. For its
// own descriptors a process can ask each socket instead (fstat(2),
// SO_ACCEPTCONN, SO_DOMAIN, getsockname(2)): microseconds, which
// AttachAndStart, which asks twice on the way to ready, needs.
//
//   absl::StatusOr<std::vector<ListeningSocket>> before = OwnListeningSockets();
//   ... the server binds ...
//   absl::StatusOr<std::vector<ListeningSocket>> after = OwnListeningSockets();
//   absl::StatusOr<int> closed = ShutDownAcceptedConnections(*after);  // DropConnections
#ifndef FIXTURE_SERVER_OWN_LISTENING_SOCKETS_H_
#define FIXTURE_SERVER_OWN_LISTENING_SOCKETS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fixture/launch/listening_sockets.h"

namespace fixture::server {

// What ListeningSockets(0) returns, in the same form (TCP v4, then v6, then
// Unix; one entry per socket however many descriptors refer to it; unnamed
// and not-listening sockets left out), each group in descriptor order rather
// than the kernel's table order. The errno text of opendir(/proc/self/fd) if
// that fails. A snapshot: descriptors opened or closed meanwhile may or may
// not be in it.
absl::StatusOr<std::vector<ListeningSocket>> OwnListeningSockets();

// Shuts down (shutdown(2), both ways; the descriptors stay open, their owner
// closes them) every connection this process accepted on one of `listeners`
// (as OwnListeningSockets() gives them: a TCP connection whose local port is
// a listener's, a Unix one whose local address is a listener's path): its
// owner (gRPC) reads the end of it, its peer sees the connection closed.
// Returns how many were shut down; the errno text of opendir(/proc/self/fd)
// if that fails. Connections this process opened to others have their own
// ephemeral ports and are left alone.
absl::StatusOr<int> ShutDownAcceptedConnections(const std::vector<ListeningSocket>& listeners);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_OWN_LISTENING_SOCKETS_H_
