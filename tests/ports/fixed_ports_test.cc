// FixtureOptions.fixed_ports on real servers: a kv_server's port-0 endpoint
// bound where the test said, redis's reservation at the test's number, and
// the ways it cannot be (an attached main picks its own port, an endpoint
// the server does not have, a port someone listens on, bad input), each
// failing the start saying so and leaving nothing behind.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
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
using ::testing::HasSubstr;

// A port number nobody else is handed while the test holds it: a
// reservation (bound, not listening), which servers may still bind.
PortReservation FreePort() {
  absl::StatusOr<PortReservation> port = PortReservation::Reserve("probe");
  EXPECT_OK(port.status());
  return *std::move(port);
}

TEST(FixedPortsTest, AKvServersPortZeroEndpointIsBoundOnTheFixedPort) {
  PortReservation port = FreePort();
  FixtureOptions options = KvOptions();
  options.fixed_ports = {{"grpc", port.port()}};
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));

  EXPECT_THAT(kv.endpoint("grpc"), IsOkAndHolds(absl::StrCat("127.0.0.1:", port.port())));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  EXPECT_OK(KvPut(channel, "apple", "red"));
  // A restart keeps it there.
  ASSERT_OK(kv.Restart().status());
  EXPECT_THAT(kv.endpoint("grpc"), IsOkAndHolds(absl::StrCat("127.0.0.1:", port.port())));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FixedPortsTest, RedisIsReservedAndServesOnTheFixedPort) {
  PortReservation port = FreePort();
  FixtureOptions options = RedisOptions({"--port", "{port:redis}"});
  options.ports = {"redis"};
  options.fixed_ports = {{"redis", port.port()}};
  ASSERT_OK_AND_ASSIGN(Fixture redis, Fixture::Start(options));

  const std::string address = absl::StrCat("127.0.0.1:", port.port());
  EXPECT_THAT(redis.endpoint("redis"), IsOkAndHolds(address));
  EXPECT_THAT(RedisCommand(address, {"PING"}), IsOkAndHolds("+PONG"));
  EXPECT_THAT(redis.Stop(), StoppedCleanly());
}

TEST(FixedPortsTest, AnAttachedMainThatPicksItsOwnPortFailsTheStartSayingSo) {
  PortReservation port = FreePort();
  FixtureOptions options = AttachedKvOptions();
  options.fixed_ports = {{"grpc", port.port()}};

  absl::Status started = Fixture::Start(options).status();
  EXPECT_THAT(started, StatusIs(absl::StatusCode::kFailedPrecondition,
                                AllOf(HasSubstr(absl::StrCat("fixed_ports[\"grpc\"] asks for port ", port.port())),
                                      HasSubstr("its own code picks the port"))));
  ExpectNothingLeftBehind(started);
}

TEST(FixedPortsTest, AnEndpointTheServerDoesNotHaveFailsTheStartNamingWhatItHas) {
  FixtureOptions options = KvOptions();
  options.fixed_ports = {{"admin", FreePort().port()}};
  absl::Status started = Fixture::Start(options).status();
  EXPECT_THAT(started, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr("it has no endpoint \"admin\" (it has: grpc)")));
  ExpectNothingLeftBehind(started);
}

TEST(FixedPortsTest, AFixedPortSomeoneListensOnFailsTheStart) {
  ASSERT_OK_AND_ASSIGN(UniqueFd taken, ListenOnLoopback());
  const int port = PortOf(taken.get());
  FixtureOptions kv = KvOptions();
  kv.fixed_ports = {{"grpc", port}};
  absl::Status started = Fixture::Start(kv).status();
  EXPECT_THAT(started, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", port))));
  ExpectNothingLeftBehind(started);
  FixtureOptions redis = RedisOptions({"--port", "{port:redis}"});
  redis.ports = {"redis"};
  redis.fixed_ports = {{"redis", port}};
  EXPECT_THAT(Fixture::Start(redis), StatusIs(::testing::_, AllOf(HasSubstr("reserving fixed port \"redis\""),
                                                                  HasSubstr(absl::StrCat(port)))));
}

TEST(FixedPortsTest, BadFixedPortsAreRefusedNamingTheField) {
  FixtureOptions kv = KvOptions();
  kv.fixed_ports = {{"grpc", 0}};
  EXPECT_THAT(Fixture::Start(kv), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("FixtureOptions.fixed_ports[\"grpc\"]: 0 is not a port")));
  FixtureOptions redis = RedisOptions();
  redis.fixed_ports = {{"redis", 6379}};
  EXPECT_THAT(Fixture::Start(redis),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("fixed_ports[\"redis\"]"), HasSubstr("`ports` does not name \"redis\""))));
}

}  // namespace
}  // namespace fixture::testing
