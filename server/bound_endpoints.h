// BoundEndpoints: the endpoints of a server that bound its own sockets, from
// the listening sockets this process gained while the server was built.
// Internal to server/ (AttachAndStart, server/attach.h).
//
//   std::vector<ListeningSocket> before = *OwnListeningSockets();
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   std::vector<v1::Endpoint> bound = BoundEndpoints(before, *OwnListeningSockets());
//   // one port: {"grpc", "127.0.0.1:41234", 41234}
#ifndef FIXTURE_SERVER_BOUND_ENDPOINTS_H_
#define FIXTURE_SERVER_BOUND_ENDPOINTS_H_

#include <vector>

#include "fixture/launch/listening_sockets.h"  // ListeningSocket
#include "fixture/proto/control.pb.h"

namespace fixture::server {

// The sockets in `after` and not in `before` (by inode), as endpoints:
//  - one endpoint per TCP port, however many sockets listen on it
//    ("localhost:0" binds 127.0.0.1 and [::1] with one port): its IPv4
//    address if it has one, an IPv4-mapped IPv6 one as IPv4 (gRPC binds
//    "127.0.0.1:0" as "[::ffff:127.0.0.1]:P"); a wildcard address as the
//    loopback address of its family ("0.0.0.0:P" -> "127.0.0.1:P",
//    "[::]:P" -> "[::1]:P"), which a client on this host can reach;
//  - one endpoint per Unix socket, port 0.
// Named "grpc" (setup.h's kDefaultEndpoint) when there is one endpoint in
// all; otherwise "grpc_PORT" for TCP and "unix" (or "unix_1", "unix_2", ...
// when there are several) for Unix sockets. TCP endpoints come first, by
// port, then Unix ones in table order.
std::vector<v1::Endpoint> BoundEndpoints(const std::vector<ListeningSocket>& before,
                                         const std::vector<ListeningSocket>& after);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_BOUND_ENDPOINTS_H_
