// Fixture::Restart() on real processes: example/kv_server (the launch
// protocol, its endpoint declared on port 0) and Debian's redis-server (a
// foreign server on a reserved port, ready by sd_notify). The new process
// serves on the same addresses, so the test's own channel and socket reach
// it without being told; it is a new process (its data gone, unless the
// server kept it in {dir}); and a restart that cannot bind the old port says
// so and leaves nothing behind.
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/ports.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/any_server/wire_client.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Ne;
using ::testing::Not;
using ::testing::Property;

constexpr absl::Duration kExitTimeout = absl::Seconds(10);

// What a client of the server holds on to across the restart.
struct Addresses {
  std::string control;
  std::string endpoint;
  bool operator==(const Addresses& other) const { return control == other.control && endpoint == other.endpoint; }
};

absl::StatusOr<Addresses> AddressesOf(const Fixture& server, absl::string_view endpoint) {
  absl::StatusOr<std::string> address = server.endpoint(endpoint);
  if (!address.ok()) return address.status();
  return Addresses{server.control_address(), *address};
}

TEST(FixtureRestartTest, AKvServerComesBackAsANewProcessOnTheSameAddresses) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  const pid_t old_pid = kv.pid();
  ASSERT_OK_AND_ASSIGN(Addresses before, AddressesOf(kv, "grpc"));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "apple", "red"));

  ASSERT_OK_AND_ASSIGN(StopResult old, kv.Restart());

  EXPECT_THAT(old, AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
  EXPECT_EQ(old.exit.pid, old_pid);
  EXPECT_TRUE(IsReaped(old_pid));
  EXPECT_THAT(kv.pid(), Ne(old_pid));
  EXPECT_THAT(AddressesOf(kv, "grpc"), IsOkAndHolds(before));
  EXPECT_EQ(kv.timeline().restarts, 1);
  // The same channel reaches the new process, which starts empty.
  EXPECT_THAT(KvGet(channel, "apple"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(KvPut(channel, "apple", "green"));
  EXPECT_THAT(kv.status(), AllOf(IsServing(), IsOkAndHolds(Property(&v1::Status::pid, kv.pid()))));

  const std::string dir = SocketDirOf(kv.control_address());
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
  EXPECT_FALSE(PathExists(dir)) << dir;
}

TEST(FixtureRestartTest, AKilledServerIsRestartedAndItsDeathIsWhatRestartReturns) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ASSERT_OK_AND_ASSIGN(Addresses before, AddressesOf(kv, "grpc"));
  ASSERT_OK(kv.Kill(SIGKILL));
  ASSERT_OK(kv.WaitForExit(kExitTimeout).status());

  ASSERT_OK_AND_ASSIGN(StopResult old, kv.Restart());

  EXPECT_THAT(old, AllOf(StoppedBy(StopStage::kAlreadyExited), Not(StoppedCleanly())));
  EXPECT_THAT(old.exit, AllOf(Field(&ExitInfo::signaled, true), Field(&ExitInfo::signal, SIGKILL)));
  EXPECT_THAT(kv.CheckRunning(), IsOk());
  EXPECT_THAT(AddressesOf(kv, "grpc"), IsOkAndHolds(before));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  EXPECT_OK(KvPut(channel, "apple", "red"));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FixtureRestartTest, AChannelThatFailedWhileTheServerWasDownReachesTheNewProcessAtOnce) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  std::shared_ptr<grpc::Channel> control = kv.control_channel();
  ASSERT_OK(kv.Kill(SIGKILL));
  ASSERT_OK(kv.WaitForExit(kExitTimeout).status());
  // Calls while nobody serves put both channels in reconnect backoff (a
  // second or more), in which gRPC fails calls at once.
  EXPECT_THAT(KvPut(channel, "apple", "red"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(HealthOf(control), StatusIs(absl::StatusCode::kUnavailable));

  ASSERT_OK(kv.Restart().status());

  EXPECT_OK(KvPut(channel, "apple", "red"));
  EXPECT_THAT(HealthOf(control), IsOkAndHolds(grpc::health::v1::HealthCheckResponse::SERVING));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FixtureRestartTest, RedisComesBackOnItsReservedPortWithWhatItSavedInItsDirectory) {
  FixtureOptions options = RedisOptions({"--port", "{port:redis}"});
  options.ports = {"redis"};
  ASSERT_OK_AND_ASSIGN(Fixture redis, Fixture::Start(options));
  const pid_t old_pid = redis.pid();
  ASSERT_OK_AND_ASSIGN(Addresses before, AddressesOf(redis, "redis"));
  ASSERT_THAT(RedisCommand(before.endpoint, {"SET", "saved", "kept"}), IsOkAndHolds("+OK"));
  ASSERT_THAT(RedisCommand(before.endpoint, {"SAVE"}), IsOkAndHolds("+OK"));  // {dir}/dump.rdb
  ASSERT_THAT(RedisCommand(before.endpoint, {"SET", "unsaved", "lost"}), IsOkAndHolds("+OK"));

  ASSERT_OK_AND_ASSIGN(StopResult old, redis.Restart());

  EXPECT_THAT(old, AllOf(StoppedBySignal(SIGTERM), StoppedCleanly()));
  EXPECT_THAT(redis.pid(), Ne(old_pid));
  EXPECT_THAT(AddressesOf(redis, "redis"), IsOkAndHolds(before));
  EXPECT_THAT(RedisCommand(before.endpoint, {"GET", "saved"}), IsOkAndHolds("$4\nkept"));
  // redis saves on SIGTERM only with a save policy; this one has none.
  EXPECT_THAT(RedisCommand(before.endpoint, {"GET", "unsaved"}), IsOkAndHolds("$-1"));
  EXPECT_THAT(redis.status(), AllOf(IsServing(), IsOkAndHolds(Property(&v1::Status::pid, redis.pid()))));
  EXPECT_THAT(redis.Stop(), AllOf(StoppedBySignal(SIGTERM), StoppedCleanly()));
}

TEST(FixtureRestartTest, ARestartWhoseOldPortWasTakenFailsSayingSoAndLeavesNothing) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ASSERT_OK_AND_ASSIGN(Addresses before, AddressesOf(kv, "grpc"));
  const int port = kv.endpoints().front().port();
  ASSERT_OK(kv.Kill(SIGKILL));
  ASSERT_OK(kv.WaitForExit(kExitTimeout).status());
  // Another process takes the port while the server is down.
  ASSERT_OK_AND_ASSIGN(UniqueFd thief, ListenOnLoopback(port));

  EXPECT_THAT(kv.Restart(),
              AllOf(StatusIs(absl::StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr("Restart(): the old process ended (killed by signal 9"),
                                   HasSubstr("the new one did not start"), HasSubstr("exited with status 1"),
                                   HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", port)),
                                   HasSubstr("pinned by FIXTURE_ENDPOINT_PORTS"))),
                    CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1)))));

  // No server runs now; every call says why.
  EXPECT_THAT(kv.CheckRunning(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                          AllOf(HasSubstr("Restart()"), HasSubstr("the new one did not start"))));
  EXPECT_THAT(kv.status(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("the new one did not start")));
  EXPECT_THAT(kv.Restart(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     AllOf(HasSubstr("nothing restarted"), HasSubstr("the new one did not start"))));
  EXPECT_THAT(kv.Stop(), StoppedBy(StopStage::kAlreadyExited));
  EXPECT_FALSE(PathExists(SocketDirOf(before.control)));
}

// FIXTURE_ENDPOINT_PORTS is the server's to read at any start: given in
// FixtureOptions.env with a port the test holds (bound, not listening, as
// FixtureOptions.ports hold theirs), a server built on server/ binds its
// port-0 endpoint there; a bad value stops it at once, quoted.
TEST(FixtureRestartTest, EndpointPortsInTheEnvironmentPinAPortZeroEndpointAtStart) {
  ASSERT_OK_AND_ASSIGN(PortReservation held, PortReservation::Reserve("grpc"));
  FixtureOptions options = KvOptions();
  options.env = {{"FIXTURE_ENDPOINT_PORTS", absl::StrCat("grpc=", held.port())}};
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  EXPECT_THAT(kv.endpoint("grpc"), IsOkAndHolds(held.address()));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  EXPECT_OK(KvPut(channel, "apple", "red"));

  options.env = {{"FIXTURE_ENDPOINT_PORTS", "grpc=0"}};
  EXPECT_THAT(Fixture::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("exited with status 2"), HasSubstr("FIXTURE_ENDPOINT_PORTS=\"grpc=0\""))));
}

TEST(FixtureRestartTest, AStoppedFixtureIsNotRestarted) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ASSERT_THAT(kv.Stop(), StoppedCleanly());
  EXPECT_THAT(kv.Restart(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     AllOf(HasSubstr("Restart(), nothing restarted"), HasSubstr("was stopped"))));
}

}  // namespace
}  // namespace fixture::testing
