// A third-party server no one here wrote: Debian's redis-server, ready by
// sd_notify (`--supervised systemd`: STATUS= then READY=1 on NOTIFY_SOCKET),
// once on a Unix socket in the fixture's private directory and once on a TCP
// port the fixture reserved; a real PING/SET/GET round trip; stopped by
// SIGTERM with exit status 0.
#include <signal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "fixture/fixture.h"
#include "fixture/proto/control.grpc.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/any_server/wire_client.h"
#include "tests/test_util.h"

namespace fixture {
namespace {

using ::fixture::testing::CarriesFailure;
using ::fixture::testing::FailureAt;
using ::fixture::testing::IsOkAndHolds;
using ::fixture::testing::IsServing;
using ::fixture::testing::RedisCommand;
using ::fixture::testing::RedisOptions;
using ::fixture::testing::SocketDirOf;
using ::fixture::testing::StatusIs;
using ::fixture::testing::StoppedBySignal;
using ::fixture::testing::StoppedCleanly;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::Property;

void ExpectRoundTrip(const std::string& address) {
  EXPECT_THAT(RedisCommand(address, {"PING"}), IsOkAndHolds("+PONG"));
  EXPECT_THAT(RedisCommand(address, {"SET", "greeting", "hello"}), IsOkAndHolds("+OK"));
  EXPECT_THAT(RedisCommand(address, {"GET", "greeting"}), IsOkAndHolds("$5\nhello"));
}

TEST(RedisTest, OnAUnixSocketInItsPrivateDirectoryIsReadyBySdNotifyAndServes) {
  FixtureOptions options = RedisOptions({"--port", "0", "--unixsocket", "{dir}/redis.sock"});
  ASSERT_OK_AND_ASSIGN(Fixture redis, Fixture::Start(options));

  // The endpoint is found from what the server listens on.
  const std::string socket = absl::StrCat("unix:", SocketDirOf(redis.control_address()), "/redis.sock");
  EXPECT_THAT(redis.endpoints(), Contains(Property(&v1::Endpoint::address, socket)));
  ExpectRoundTrip(socket);

  // The parent serves the control socket for it: status, labels, the pid.
  ASSERT_OK_AND_ASSIGN(v1::Status status, redis.status());
  EXPECT_THAT(status, IsServing());
  EXPECT_EQ(status.pid(), redis.pid());
  EXPECT_THAT(status.labels(), Contains(Pair("readiness", "sd_notify")));
  EXPECT_THAT(status.labels(), Contains(Pair("status", HasSubstr("Ready to accept connections"))));

  EXPECT_THAT(redis.Stop(), AllOf(StoppedBySignal(SIGTERM), StoppedCleanly()));
}

TEST(RedisTest, OnAReservedTcpPortIsReadyBySdNotifyAndServes) {
  FixtureOptions options = RedisOptions({"--port", "{port:redis}", "--bind", "127.0.0.1"});
  options.ports = {"redis"};
  ASSERT_OK_AND_ASSIGN(Fixture redis, Fixture::Start(options));

  ASSERT_OK_AND_ASSIGN(std::string address, redis.endpoint("redis"));
  EXPECT_THAT(address, ::testing::StartsWith("127.0.0.1:"));
  ExpectRoundTrip(address);

  ASSERT_OK_AND_ASSIGN(StopResult stopped, redis.Stop());
  EXPECT_THAT(stopped, AllOf(StoppedBySignal(SIGTERM), StoppedCleanly()));
  EXPECT_FALSE(stopped.exit.signaled) << stopped.ToString();
  EXPECT_EQ(stopped.exit.code, 0) << stopped.ToString();
}

TEST(RedisTest, ControlShutdownOnTheParentServedSocketStopsItWithItsStopSignal) {
  FixtureOptions options = RedisOptions({"--port", "0", "--unixsocket", "{dir}/redis.sock"});
  ASSERT_OK_AND_ASSIGN(Fixture redis, Fixture::Start(options));

  auto stub = v1::FixtureControl::NewStub(redis.control_channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::ShutdownRequest request;
  v1::ShutdownResponse response;
  ASSERT_TRUE(stub->Shutdown(&context, request, &response).ok());
  EXPECT_TRUE(response.initiated());

  // It exits on its own (SIGTERM: redis exits 0): the stop finds it gone.
  ASSERT_OK_AND_ASSIGN(StopResult stopped, redis.Stop());
  EXPECT_TRUE(stopped.exit.success()) << stopped.ToString();
}

TEST(RedisTest, ARedisThatCannotStartIsReportedAtOnceWithItsStderr) {
  // An unknown directive: redis prints why and exits 1 before READY=1.
  FixtureOptions options = RedisOptions({"--no-such-directive", "x"});
  EXPECT_THAT(
      Fixture::Start(options),
      AllOf(StatusIs(absl::StatusCode::kFailedPrecondition,
                     AllOf(HasSubstr("exited with status 1 before it was ready"), HasSubstr("no-such-directive"))),
            CarriesFailure(FailureAt(v1::Failure::START, v1::Failure::EXITED))));
}

}  // namespace
}  // namespace fixture
