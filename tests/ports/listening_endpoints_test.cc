// ListeningEndpoints (fixture/ports.h): the endpoints of every process of a
// process group, found in /proc, with real third-party servers in the group.
#include <signal.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/launch/pidfd.h"
#include "fixture/ports.h"
#include "fixture/proto/control.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/ports/scratch_dir.h"
#include "tests/ports/spawned_process.h"

namespace fixture::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kTimeout = absl::Seconds(30);

MATCHER_P3(EndpointIs, name, address, port, "") {
  return arg.name() == name && arg.address() == address && arg.port() == port;
}

std::string Describe(const std::vector<v1::Endpoint>& endpoints) {
  std::string text;
  for (const v1::Endpoint& e : endpoints) absl::StrAppend(&text, "\n  ", e.name(), " ", e.address(), " ", e.port());
  return text;
}

// redis (the group's leader) on a reserved TCP port and a Unix socket, and
// python3 -m http.server on a port of its own choosing, in one new group.
TEST(ListeningEndpointsTest, EveryMemberOfTheGroupKnownPortsByName) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("redis"));
  std::string unix_path = dir.path() + "/redis.sock";
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<SpawnedProcess> redis,
      SpawnedProcess::Start({"/usr/bin/redis-server", "--port", absl::StrCat(reservation.port()), "--bind", "127.0.0.1",
                             "--unixsocket", unix_path, "--save", "", "--appendonly", "no", "--dir", dir.path()},
                            /*process_group=*/0));
  ASSERT_OK(redis->AwaitOutput("Ready to accept connections", absl::Now() + kTimeout).status());
  pid_t group = redis->pid();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> http,
                       SpawnedProcess::Start({"/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                                              "--directory", dir.path()},
                                             group));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> serving,
                       http->AwaitOutput(R"(Serving HTTP on 127\.0\.0\.1 port (\d+))", absl::Now() + kTimeout));
  int http_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(serving[1], &http_port));
  reservation.Release();

  ASSERT_OK_AND_ASSIGN(std::vector<v1::Endpoint> endpoints,
                       ListeningEndpoints(group, {{"redis", reservation.port()}, {"unused", 1}}));
  EXPECT_THAT(endpoints, UnorderedElementsAre(EndpointIs("redis", reservation.address(), reservation.port()),
                                              EndpointIs("unix:" + unix_path, "unix:" + unix_path, 0),
                                              EndpointIs(absl::StrCat("tcp:", http_port),
                                                         absl::StrCat("127.0.0.1:", http_port), http_port)))
      << Describe(endpoints);

  // A member gone: the rest are still found.
  ASSERT_OK(http->Stop(SIGKILL).status());
  ASSERT_OK_AND_ASSIGN(endpoints, ListeningEndpoints(group, {}));
  EXPECT_THAT(endpoints, UnorderedElementsAre(EndpointIs(absl::StrCat("tcp:", reservation.port()),
                                                         reservation.address(), reservation.port()),
                                              EndpointIs("unix:" + unix_path, "unix:" + unix_path, 0)))
      << Describe(endpoints);
  ASSERT_OK_AND_ASSIGN(ExitInfo exit, redis->Stop(SIGTERM));
  EXPECT_TRUE(exit.success()) << exit.ToString();
}

// A listener inherited over fork is one socket: listed once.
TEST(ListeningEndpointsTest, ASocketSharedByMembersIsListedOnce) {
  // python3 binds, listens, forks (the child keeps the socket) and both wait.
  const char* program =
      "import os, socket, time\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
      "pid = os.fork()\n"
      "if pid != 0: print('port', s.getsockname()[1], 'child', pid, flush=True)\n"
      "time.sleep(300)\n";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> parent,
                       SpawnedProcess::Start({"/usr/bin/python3", "-c", program}, /*process_group=*/0));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> line,
                       parent->AwaitOutput(R"(^port (\d+) child (\d+))", absl::Now() + kTimeout));
  int port = 0;
  pid_t child = 0;
  ASSERT_TRUE(absl::SimpleAtoi(line[1], &port));
  ASSERT_TRUE(absl::SimpleAtoi(line[2], &child));
  ASSERT_EQ(getpgid(child), parent->pid());

  ASSERT_OK_AND_ASSIGN(std::vector<v1::Endpoint> endpoints, ListeningEndpoints(parent->pid(), {{"web", port}}));
  EXPECT_THAT(endpoints, UnorderedElementsAre(EndpointIs("web", absl::StrCat("127.0.0.1:", port), port)))
      << Describe(endpoints);

  // The forked child is not ours to reap: kill the group, then reap the parent.
  ASSERT_EQ(kill(-parent->pid(), SIGKILL), 0) << strerror(errno);
  ASSERT_OK(parent->Stop(SIGKILL).status());
}

TEST(ListeningEndpointsTest, AnEmptyGroupIsNotFound) {
  pid_t child = fork();
  ASSERT_GE(child, 0) << strerror(errno);
  if (child == 0) {
    setpgid(0, 0);
    _exit(0);
  }
  ASSERT_OK(Reap(child).status());
  EXPECT_THAT(ListeningEndpoints(child, {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(absl::StrCat("process group ", child))));
}

}  // namespace
}  // namespace fixture::testing
