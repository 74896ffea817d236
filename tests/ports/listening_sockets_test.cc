// ListeningSockets() (launch/listening_sockets.h) on real sockets: this
// process's own, and those of real third-party servers found by their pid.
#include "fixture/launch/listening_sockets.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/ports/scratch_dir.h"
#include "tests/ports/spawned_process.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture::testing {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using Kind = ListeningSocket::Kind;

absl::Duration kStartTimeout = absl::Seconds(30);

// A TCP socket bound to `host`:0 (family `family`); listening if `listen`.
// The port it got.
absl::StatusOr<int> BindTcp(int family, const char* host, bool listen_too, UniqueFd* out) {
  UniqueFd fd(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus(errno, "socket");
  sockaddr_storage address{};
  socklen_t length;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&address);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, host, &in->sin_addr);
    length = sizeof *in;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, host, &in6->sin6_addr);
    length = sizeof *in6;
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind(", host, ")"));
  }
  if (listen_too && listen(fd.get(), 8) != 0) return ErrnoStatus(errno, "listen");
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return ErrnoStatus(errno, "getsockname");
  }
  int port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  *out = std::move(fd);
  return port;
}

// A listening Unix stream socket at `path`; abstract if `path` starts with
// NUL (then `path` is the whole name, NUL included).
absl::StatusOr<UniqueFd> ListenUnix(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus(errno, "socket(AF_UNIX)");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, path.data(), path.size());
  socklen_t length = offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '\0' ? 0 : 1);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) return ErrnoStatus(errno, "bind(unix)");
  if (listen(fd.get(), 8) != 0) return ErrnoStatus(errno, "listen(unix)");
  return fd;
}

ListeningSocket Tcp4(const std::string& host, int port) { return {Kind::kTcp4, absl::StrCat(host, ":", port), port}; }

// Compares kind, address and port (not the inode).
MATCHER_P(SameSocketAs, expected, "") {
  return arg.kind == expected.kind && arg.address == expected.address && arg.port == expected.port;
}

TEST(ListeningSocketsTest, OwnTcp4ListenerIsFoundBothAsPidZeroAndByPid) {
  UniqueFd listener, bound_only;
  ASSERT_OK_AND_ASSIGN(int port, BindTcp(AF_INET, "127.0.0.1", /*listen_too=*/true, &listener));
  ASSERT_OK_AND_ASSIGN(int bound_port, BindTcp(AF_INET, "127.0.0.1", /*listen_too=*/false, &bound_only));

  for (pid_t pid : {pid_t{0}, getpid()}) {
    ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(pid));
    EXPECT_THAT(sockets, Contains(SameSocketAs(Tcp4("127.0.0.1", port)))) << "pid " << pid;
    // Bound but not listening: not reported.
    EXPECT_THAT(sockets, Not(Contains(Field(&ListeningSocket::port, bound_port)))) << "pid " << pid;
  }
}

TEST(ListeningSocketsTest, ConnectedAndAcceptedSocketsAreNotReported) {
  UniqueFd listener;
  ASSERT_OK_AND_ASSIGN(int port, BindTcp(AF_INET, "127.0.0.1", /*listen_too=*/true, &listener));
  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << strerror(errno);
  UniqueFd accepted(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid()) << strerror(errno);

  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(0));
  // The listener once; the accepted socket has the same local port but is
  // ESTABLISHED, and the client's is not ours to listen on.
  int with_port = 0;
  for (const ListeningSocket& s : sockets) with_port += s.port == port;
  EXPECT_EQ(with_port, 1);
}

TEST(ListeningSocketsTest, OwnTcp6ListenersOnLoopbackAnyAndMappedIpv4) {
  UniqueFd loopback, any;
  absl::StatusOr<int> port = BindTcp(AF_INET6, "::1", /*listen_too=*/true, &loopback);
  if (!port.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << port.status();
  ASSERT_OK_AND_ASSIGN(int any_port, BindTcp(AF_INET6, "::", /*listen_too=*/true, &any));
  // An IPv4-mapped address (as gRPC binds "127.0.0.1:0"): shown as IPv4.
  UniqueFd mapped;
  ASSERT_OK_AND_ASSIGN(int mapped_port, BindTcp(AF_INET6, "::ffff:127.0.0.1", /*listen_too=*/true, &mapped));

  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(0));
  EXPECT_THAT(sockets, Contains(SameSocketAs(ListeningSocket{Kind::kTcp6, absl::StrCat("[::1]:", *port), *port})));
  EXPECT_THAT(sockets, Contains(SameSocketAs(ListeningSocket{Kind::kTcp6, absl::StrCat("[::]:", any_port), any_port})));
  EXPECT_THAT(
      sockets,
      Contains(SameSocketAs(ListeningSocket{Kind::kTcp6, absl::StrCat("127.0.0.1:", mapped_port), mapped_port})));
}

TEST(ListeningSocketsTest, OwnUnixListenersByPathAndAbstractName) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  std::string path = dir.path() + "/own listener.sock";  // a space in the path
  ASSERT_OK_AND_ASSIGN(UniqueFd by_path, ListenUnix(path));
  std::string abstract_name = absl::StrCat("fixture-listening-sockets-test-", getpid());
  ASSERT_OK_AND_ASSIGN(UniqueFd abstract, ListenUnix(std::string(1, '\0') + abstract_name));
  // Bound, not listening: not reported.
  std::string quiet_path = dir.path() + "/quiet.sock";
  UniqueFd quiet(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un quiet_address{};
  quiet_address.sun_family = AF_UNIX;
  strcpy(quiet_address.sun_path, quiet_path.c_str());
  ASSERT_EQ(bind(quiet.get(), reinterpret_cast<sockaddr*>(&quiet_address), sizeof quiet_address), 0) << strerror(errno);

  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(0));
  EXPECT_THAT(sockets, Contains(SameSocketAs(ListeningSocket{Kind::kUnix, "unix:" + path, 0})));
  EXPECT_THAT(sockets, Contains(SameSocketAs(ListeningSocket{Kind::kUnix, "unix-abstract:" + abstract_name, 0})));
  EXPECT_THAT(sockets, Not(Contains(Field(&ListeningSocket::address, HasSubstr("quiet.sock")))));
}

TEST(ListeningSocketsTest, PythonHttpServerChildIsFoundByItsPid) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> http,
                       SpawnedProcess::Start({"/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                                              "--directory", "/"}));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> serving,
                       http->AwaitOutput(R"(Serving HTTP on 127\.0\.0\.1 port (\d+))", absl::Now() + kStartTimeout));
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(serving[1], &port)) << serving[0];

  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(http->pid()));
  EXPECT_THAT(sockets, UnorderedElementsAre(SameSocketAs(Tcp4("127.0.0.1", port))));
  // Not this process's.
  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> own, ListeningSockets(0));
  EXPECT_THAT(own, Not(Contains(Field(&ListeningSocket::port, port))));
}

TEST(ListeningSocketsTest, RedisOnAUnixSocketIsFoundByItsPid) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  std::string unix_path = dir.path() + "/redis.sock";
  // --port 0: redis listens on no TCP port at all.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> redis,
                       SpawnedProcess::Start({"/usr/bin/redis-server", "--port", "0", "--unixsocket", unix_path,
                                              "--save", "", "--appendonly", "no", "--dir", dir.path()}));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> ready,
                       redis->AwaitOutput("ready to accept connections at (.*)$", absl::Now() + kStartTimeout));
  EXPECT_EQ(ready[1], unix_path);

  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(redis->pid()));
  EXPECT_THAT(sockets, UnorderedElementsAre(SameSocketAs(ListeningSocket{Kind::kUnix, "unix:" + unix_path, 0})));
  ASSERT_OK_AND_ASSIGN(ExitInfo exit, redis->Stop(SIGTERM));
  EXPECT_TRUE(exit.success()) << exit.ToString() << "\n" << redis->output();
}

TEST(ListeningSocketsTest, ExitedProcessesAreNotFound) {
  pid_t child = fork();
  ASSERT_GE(child, 0) << strerror(errno);
  if (child == 0) _exit(0);
  // A zombie: exited, not reaped. Waiting on its pidfd, not sleeping.
  UniqueFd pidfd = OpenPidfd(child);
  ASSERT_TRUE(pidfd.valid()) << strerror(errno);
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PIDFD, pidfd.get(), &info, WEXITED | WNOWAIT), 0) << strerror(errno);
  EXPECT_THAT(ListeningSockets(child), StatusIs(absl::StatusCode::kNotFound, HasSubstr(absl::StrCat("/proc/", child))));

  ASSERT_OK(Reap(child).status());
  EXPECT_THAT(ListeningSockets(child), StatusIs(absl::StatusCode::kNotFound, HasSubstr("has exited")));
}

TEST(ListeningSocketsTest, ProcessOfAnotherUserIsPermissionDenied) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root, to become another user in a child";
  UniqueFd listener;
  ASSERT_OK_AND_ASSIGN(int port, BindTcp(AF_INET, "127.0.0.1", true, &listener));
  (void)port;
  pid_t parent = getpid();
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  // This test process runs no other threads (no gRPC here), so the child may
  // allocate after fork.
  pid_t child = fork();
  ASSERT_GE(child, 0) << strerror(errno);
  if (child == 0) {
    std::string report;
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      report = absl::StrCat("setuid: ", strerror(errno));
    } else {
      report = ListeningSockets(parent).status().ToString();
    }
    (void)!write(write_end.get(), report.data(), report.size());
    _exit(0);
  }
  write_end.reset();
  std::string report;
  char buffer[512];
  for (ssize_t n; (n = read(read_end.get(), buffer, sizeof buffer)) > 0;) report.append(buffer, n);
  ASSERT_OK(Reap(child).status());
  if (absl::StartsWith(report, "setuid:")) GTEST_SKIP() << "cannot become uid 65534 here: " << report;
  EXPECT_THAT(report, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(report, HasSubstr(absl::StrCat("/proc/", parent, "/fd")));
  EXPECT_THAT(report, HasSubstr("Permission denied"));
}

}  // namespace
}  // namespace fixture::testing
