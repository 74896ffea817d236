#include "fixture/server/bound_endpoints.h"

#include <map>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "fixture/server/setup.h"

namespace fixture::server {
namespace {

// gRPC binds "127.0.0.1:0" as an IPv6 socket on the IPv4-mapped address.
constexpr absl::string_view kMappedPrefix = "[::ffff:";

bool IsIpv4(const ListeningSocket& socket) {
  return socket.kind == ListeningSocket::Kind::kTcp4 || absl::StartsWith(socket.address, kMappedPrefix);
}

// An IPv4-mapped address as IPv4, a wildcard address as its family's
// loopback address; others unchanged.
std::string Reachable(const ListeningSocket& socket) {
  absl::string_view address = socket.address;
  if (absl::ConsumePrefix(&address, kMappedPrefix)) {
    address = address.substr(0, address.find(']'));
    return address == "0.0.0.0" ? absl::StrCat("127.0.0.1:", socket.port) : absl::StrCat(address, ":", socket.port);
  }
  if (absl::StartsWith(address, "0.0.0.0:")) return absl::StrCat("127.0.0.1:", socket.port);
  if (absl::StartsWith(address, "[::]:")) return absl::StrCat("[::1]:", socket.port);
  return socket.address;
}

}  // namespace

std::vector<v1::Endpoint> BoundEndpoints(const std::vector<ListeningSocket>& before,
                                         const std::vector<ListeningSocket>& after) {
  absl::flat_hash_set<uint64_t> old;
  for (const ListeningSocket& socket : before) old.insert(socket.inode);
  std::map<int, const ListeningSocket*> by_port;  // The socket each TCP port is reported by.
  std::vector<const ListeningSocket*> unix_sockets;
  for (const ListeningSocket& socket : after) {
    if (old.contains(socket.inode)) continue;
    if (socket.kind == ListeningSocket::Kind::kUnix) {
      unix_sockets.push_back(&socket);
      continue;
    }
    const ListeningSocket*& chosen = by_port[socket.port];
    if (chosen == nullptr || (!IsIpv4(*chosen) && IsIpv4(socket))) {
      chosen = &socket;
    }
  }
  const bool single = by_port.size() + unix_sockets.size() == 1;
  std::vector<v1::Endpoint> endpoints;
  for (const auto& [port, socket] : by_port) {
    v1::Endpoint& endpoint = endpoints.emplace_back();
    endpoint.set_name(single ? std::string(kDefaultEndpoint) : absl::StrCat(kDefaultEndpoint, "_", port));
    endpoint.set_address(Reachable(*socket));
    endpoint.set_port(port);
  }
  for (size_t i = 0; i < unix_sockets.size(); ++i) {
    v1::Endpoint& endpoint = endpoints.emplace_back();
    if (single) {
      endpoint.set_name(kDefaultEndpoint);
    } else {
      endpoint.set_name(unix_sockets.size() == 1 ? std::string("unix") : absl::StrCat("unix_", i + 1));
    }
    endpoint.set_address(unix_sockets[i]->address);
  }
  return endpoints;
}

}  // namespace fixture::server
