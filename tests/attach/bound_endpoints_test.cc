// BoundEndpoints: how AttachAndStart names and addresses the sockets a
// server bound, on socket lists as /proc shows them (launch/listening_sockets.h;
// tests/ports tests the reading of /proc itself).
#include "fixture/server/bound_endpoints.h"

#include <string>
#include <vector>

#include "fixture/launch/listening_sockets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixture::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ListeningSocket Tcp4(const std::string& host, int port, uint64_t inode) {
  return {ListeningSocket::Kind::kTcp4, host + ":" + std::to_string(port), port, inode};
}
ListeningSocket Tcp6(const std::string& host, int port, uint64_t inode) {
  return {ListeningSocket::Kind::kTcp6, "[" + host + "]:" + std::to_string(port), port, inode};
}
ListeningSocket Unix(const std::string& path, uint64_t inode) {
  return {ListeningSocket::Kind::kUnix, "unix:" + path, 0, inode};
}

// "name address port", for matching.
std::vector<std::string> Described(const std::vector<v1::Endpoint>& endpoints) {
  std::vector<std::string> out;
  for (const v1::Endpoint& e : endpoints) out.push_back(e.name() + " " + e.address() + " " + std::to_string(e.port()));
  return out;
}

TEST(BoundEndpointsTest, OnePortIsGrpcWithItsIpv4Address) {
  // gRPC's "127.0.0.1:0": an IPv6 socket on the IPv4-mapped address.
  EXPECT_THAT(Described(BoundEndpoints({}, {Tcp6("::ffff:127.0.0.1", 41234, 7)})),
              ElementsAre("grpc 127.0.0.1:41234 41234"));
  EXPECT_THAT(Described(BoundEndpoints({}, {Tcp4("127.0.0.1", 41234, 7)})), ElementsAre("grpc 127.0.0.1:41234 41234"));
}

TEST(BoundEndpointsTest, SocketsThatWereThereBeforeAreNotTheServers) {
  const ListeningSocket control = Unix("/tmp/fixture-Ab12Cd/control.sock", 1);
  EXPECT_THAT(Described(BoundEndpoints({control}, {control, Tcp4("127.0.0.1", 5000, 2)})),
              ElementsAre("grpc 127.0.0.1:5000 5000"));
  EXPECT_THAT(BoundEndpoints({control}, {control}), IsEmpty());
}

TEST(BoundEndpointsTest, OnePortOnSeveralSocketsIsOneEndpointPreferringIpv4) {
  // "localhost:0": [::1] and 127.0.0.1 with the same port.
  EXPECT_THAT(Described(BoundEndpoints({}, {Tcp6("::1", 6000, 1), Tcp4("127.0.0.1", 6000, 2)})),
              ElementsAre("grpc 127.0.0.1:6000 6000"));
  EXPECT_THAT(Described(BoundEndpoints({}, {Tcp6("::1", 6000, 1)})), ElementsAre("grpc [::1]:6000 6000"));
}

TEST(BoundEndpointsTest, WildcardsAreReportedAsLoopback) {
  EXPECT_THAT(Described(BoundEndpoints({}, {Tcp4("0.0.0.0", 7000, 1)})), ElementsAre("grpc 127.0.0.1:7000 7000"));
  EXPECT_THAT(Described(BoundEndpoints({}, {Tcp6("::", 7000, 1)})), ElementsAre("grpc [::1]:7000 7000"));
  EXPECT_THAT(Described(BoundEndpoints({}, {Tcp6("::ffff:0.0.0.0", 7000, 1)})),
              ElementsAre("grpc 127.0.0.1:7000 7000"));
}

TEST(BoundEndpointsTest, SeveralEndpointsAreNamedByPortThenUnix) {
  EXPECT_THAT(
      Described(BoundEndpoints({}, {Tcp4("127.0.0.1", 9000, 1), Tcp4("127.0.0.1", 8000, 2), Unix("/tmp/a.sock", 3)})),
      ElementsAre("grpc_8000 127.0.0.1:8000 8000", "grpc_9000 127.0.0.1:9000 9000", "unix unix:/tmp/a.sock 0"));
  EXPECT_THAT(Described(BoundEndpoints({}, {Unix("/tmp/a.sock", 1), Unix("/tmp/b.sock", 2)})),
              ElementsAre("unix_1 unix:/tmp/a.sock 0", "unix_2 unix:/tmp/b.sock 0"));
  EXPECT_THAT(Described(BoundEndpoints({}, {Unix("/tmp/a.sock", 1)})), ElementsAre("grpc unix:/tmp/a.sock 0"));
}

}  // namespace
}  // namespace fixture::server
