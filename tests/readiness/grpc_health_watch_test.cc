// ReadyByGrpcHealth against a real gRPC server (health_server: gRPC's default
// health service): ready on SERVING, also when the server only listens after
// the Watch has started; a service that stays NOT_SERVING; a server without
// a health service; a server that dies first; one that never listens.
#include <errno.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/private_dir.h"
#include "fixture/ready_watch.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/readiness/readiness_test_util.h"
#include <netinet/in.h>

namespace fixture {
namespace {

using ::fixture::readiness_test::IsOutcome;
using ::fixture::readiness_test::kLongWait;
using ::fixture::readiness_test::kShortWait;
using ::fixture::readiness_test::StartChild;
using ::fixture::testing::IsOkAndHolds;
using ::fixture::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kHealthServer[] = "tests/readiness/health_server";

class GrpcHealthWatchTest : public readiness_test::WatchTest {
 protected:
  absl::StatusOr<std::unique_ptr<ReadyWatch>> Watch(std::string target, std::string service = "") {
    return ReadyWatch::Create(ReadyByGrpcHealth{std::move(target), std::move(service)},
                              WatchContext{.dir = dir_->path()});
  }

  std::string Socket() const { return absl::StrCat("unix:", dir_->File("grpc.sock")); }
};

TEST_F(GrpcHealthWatchTest, ReadyOnServing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(Socket()));
  ASSERT_OK_AND_ASSIGN(ChildProcess server, StartChild({kHealthServer, Socket()}));
  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
  EXPECT_THAT(watch->Labels(), AllOf(Contains(Pair("readiness", "grpc_health")), Contains(Pair("health", "SERVING"))));
  // Once ready, ready.
  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now()), IsOutcome(WatchOutcome::kReady));
}

TEST_F(GrpcHealthWatchTest, ANamedServiceThatIsServing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(Socket(), "kv"));
  ASSERT_OK_AND_ASSIGN(ChildProcess server, StartChild({kHealthServer, Socket(), "--service=kv"}));
  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
}

TEST_F(GrpcHealthWatchTest, NotServingTimesOutSayingSo) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(Socket(), "kv"));
  ASSERT_OK_AND_ASSIGN(ChildProcess server,
                       StartChild({kHealthServer, Socket(), "--service=kv", "--status=not_serving"}));
  // Until it answers at all: "" is SERVING from the start.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> whole, Watch(Socket()));
  ASSERT_THAT(whole->Await(server.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));

  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kShortWait), IsOutcome(WatchOutcome::kTimedOut));
  EXPECT_THAT(watch->LastSeen(),
              HasSubstr(absl::StrCat("last health status of \"kv\" at ", Socket(), ": NOT_SERVING")));
  EXPECT_THAT(watch->Labels(), Contains(Pair("health", "NOT_SERVING")));
}

TEST_F(GrpcHealthWatchTest, NoHealthServiceIsFailedPreconditionAtOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(Socket()));
  ASSERT_OK_AND_ASSIGN(ChildProcess server, StartChild({kHealthServer, Socket(), "--no_health"}));
  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kLongWait),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("serves no grpc.health.v1.Health")));
}

TEST_F(GrpcHealthWatchTest, AServerThatDiesFirstIsSeenExitedAtOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(Socket()));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, StartChild({"/bin/sh", "-c", "exit 3"}));
  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kExited));
}

TEST_F(GrpcHealthWatchTest, NeverListeningTimesOutSayingTheChannelState) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(Socket()));
  ASSERT_OK_AND_ASSIGN(ChildProcess sleeper, StartChild({"/bin/sleep", "300"}));
  EXPECT_THAT(watch->Await(sleeper.pidfd(), absl::Now() + kShortWait), IsOutcome(WatchOutcome::kTimedOut));
  EXPECT_THAT(watch->LastSeen(), AllOf(HasSubstr(absl::StrCat("no health status of \"\" at ", Socket(), " yet")),
                                       HasSubstr("channel TRANSIENT_FAILURE")));
}

// A listener of the test's own on 127.0.0.1:0: the watch's first connection
// lands here, so the Watch has surely started before the server listens.
TEST_F(GrpcHealthWatchTest, ConnectsWhenTheServerListensAfterTheWatchStarted) {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid()) << strerror(errno);
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof address), 0) << strerror(errno);
  ASSERT_EQ(listen(listener.get(), 4), 0) << strerror(errno);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<struct sockaddr*>(&address), &length), 0);
  const std::string target = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(target));
  absl::StatusOr<WatchOutcome> outcome;
  std::thread awaiting([&] { outcome = watch->Await(-1, absl::Now() + kLongWait); });
  // The watch's connection: accepted and dropped, and nobody listens any more.
  absl::StatusOr<bool> connected = PollReadable(listener.get(), absl::Now() + kLongWait, "the test's listener");
  if (connected.ok() && *connected) UniqueFd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)).reset();
  listener.reset();
  absl::StatusOr<ChildProcess> server = StartChild({kHealthServer, target});
  awaiting.join();  // Also when the start failed: the watch times out.
  EXPECT_THAT(connected, IsOkAndHolds(true));
  ASSERT_OK(server);
  EXPECT_THAT(outcome, IsOutcome(WatchOutcome::kReady));
}

}  // namespace
}  // namespace fixture
