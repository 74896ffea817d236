// OwnListeningSockets (each descriptor asked) against ListeningSockets(0)
// (the kernel's /proc tables), on sockets this test really binds: TCP on
// IPv4, on IPv6 and on the IPv4-mapped address (named as the IPv4 address), a Unix path, an abstract
// name, one socket behind two descriptors, and sockets that do not listen.
#include "fixture/server/own_listening_sockets.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fixture/launch/listening_sockets.h"
#include "fixture/launch/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture::server {
namespace {

using ::testing::Contains;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

// A socket bound to `address` (listening if `listen_too`); -1 in the fd
// (and the test failed) when that cannot be done.
UniqueFd Bound(int domain, const sockaddr* address, socklen_t length, bool listen_too) {
  UniqueFd fd(socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || bind(fd.get(), address, length) != 0 || (listen_too && listen(fd.get(), 1) != 0)) {
    ADD_FAILURE() << "socket/bind/listen (domain " << domain << "): " << strerror(errno);
    return UniqueFd();
  }
  return fd;
}

UniqueFd Tcp4(bool listen_too) {
  sockaddr_in in = {};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return Bound(AF_INET, reinterpret_cast<sockaddr*>(&in), sizeof(in), listen_too);
}

UniqueFd Tcp6(const char* host) {
  sockaddr_in6 in6 = {};
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, host, &in6.sin6_addr);
  return Bound(AF_INET6, reinterpret_cast<sockaddr*>(&in6), sizeof(in6), /*listen_too=*/true);
}

UniqueFd Unix(const std::string& path, bool abstract) {
  sockaddr_un un = {};
  un.sun_family = AF_UNIX;
  socklen_t length = offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 1 : 0);
  memcpy(un.sun_path + (abstract ? 1 : 0), path.data(), path.size());
  return Bound(AF_UNIX, reinterpret_cast<sockaddr*>(&un), length, /*listen_too=*/true);
}

// The port a TCP socket (v4 or v6) is bound to; 0 (and the test failed) if
// getsockname fails.
int PortOf(int fd) {
  sockaddr_in6 address = {};  // sin_port and sin6_port sit at the same offset.
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "getsockname: " << strerror(errno);
    return 0;
  }
  return ntohs(address.sin6_port);
}

std::vector<std::string> Addresses(const std::vector<ListeningSocket>& sockets) {
  std::vector<std::string> out;
  for (const ListeningSocket& s : sockets) out.push_back(s.address);
  return out;
}

TEST(OwnListeningSocketsTest, AgreesWithTheKernelsTables) {
  char dir[] = "/tmp/own_ls_XXXXXX";  // Not TEST_TMPDIR: a socket path must fit in 108 bytes.
  ASSERT_NE(mkdtemp(dir), nullptr) << strerror(errno);
  const std::string path = std::string(dir) + "/s.sock";
  const std::string abstract = std::string("own_ls_test_") + std::to_string(getpid());

  UniqueFd tcp4 = Tcp4(/*listen_too=*/true);
  UniqueFd tcp6 = Tcp6("::1");
  UniqueFd mapped = Tcp6("::ffff:127.0.0.1");
  UniqueFd local = Unix(path, /*abstract=*/false);
  UniqueFd hidden = Unix(abstract, /*abstract=*/true);
  UniqueFd twice(dup(tcp4.get()));
  UniqueFd quiet = Tcp4(/*listen_too=*/false);  // Bound, not listening.

  absl::StatusOr<std::vector<ListeningSocket>> own = OwnListeningSockets();
  absl::StatusOr<std::vector<ListeningSocket>> tables = ListeningSockets(0);
  ASSERT_TRUE(own.ok()) << own.status();
  ASSERT_TRUE(tables.ok()) << tables.status();
  EXPECT_THAT(*own, UnorderedElementsAreArray(*tables));
  EXPECT_THAT(Addresses(*own), Contains("unix:" + path));
  EXPECT_THAT(Addresses(*own), Contains("unix-abstract:" + abstract));
  // The IPv4-mapped one, named as the IPv4 address a client dials.
  EXPECT_THAT(Addresses(*own), Contains("127.0.0.1:" + std::to_string(PortOf(mapped.get()))));
  EXPECT_THAT(Addresses(*own), Not(Contains("127.0.0.1:" + std::to_string(PortOf(quiet.get())))));

  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace fixture::server
