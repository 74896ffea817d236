// The drain of a control Shutdown (ShutdownRequest.drain, StopPolicy.drain)
// on each kind of server that speaks the launch protocol: one built on
// server/ (example/kv_server), an existing main() attached with
// server/attach.h (example/attached_server) and the Python grpcio server
// (tests/python/kv_server_py). During the drain the state is DRAINING and
// health NOT_SERVING from the first moment, and a new call is still answered;
// after it the process exits 0 on its own. A later Shutdown with drain 0, and
// a stop signal, end a drain at once; a drain outside 0..1h is refused naming
// the field and the server goes on serving; Stop() with StopPolicy.drain is
// clean at the control stage (bad StopPolicy.drain values:
// tests/fixture_options_test.cc).
//
// Real processes and sockets; every wait is for an event with a deadline.
// The one timed assertion is that a call made during the drain is answered:
// the drain is kDrain long, and the call is made right after the Shutdown.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/proto/control.pb.h"
#include "fixture/testing.h"
#include "fixture/third_party/grpc_health/health.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control_calls.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ServingStatus = grpc::health::v1::HealthCheckResponse;

// Long enough for the checks made during it on a loaded machine.
constexpr absl::Duration kDrain = absl::Seconds(3);
// Much longer than any test: only a later request can end such a drain.
constexpr absl::Duration kEndlessDrain = absl::Hours(1);
// The bound on every wait for the process to exit once its drain is over.
constexpr absl::Duration kExitBound = absl::Seconds(10);

struct DrainedServer {
  std::string name;
  std::string program;
  // Whether the endpoint serves grpc.health.v1.Health (server/ endpoints do;
  // an attached server and the Python one are left as their code built them).
  bool endpoint_health;
};

class DrainTest : public ::testing::TestWithParam<DrainedServer> {
 protected:
  FixtureOptions Options(absl::string_view suffix) const {
    FixtureOptions options;
    options.name = absl::StrCat(GetParam().name, "_", suffix);
    options.program = Binary{GetParam().program};
    return options;
  }
};

INSTANTIATE_TEST_SUITE_P(Servers, DrainTest,
                         ::testing::Values(DrainedServer{"kv", "example/kv_server", true},
                                           DrainedServer{"attached", "example/attached_server", false},
                                           DrainedServer{"python", "tests/python/kv_server_py", false}),
                         [](const ::testing::TestParamInfo<DrainedServer>& info) { return info.param.name; });

TEST_P(DrainTest, DuringTheDrainTheServerSaysDrainingAndNotServingAndStillAnswersNewCalls) {
  ASSERT_OK_AND_ASSIGN(Fixture server, Fixture::Start(Options("drain")));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, server.channel());
  ASSERT_OK(KvPut(channel, "before", "1"));

  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse shutdown, ControlCalls(server).Shutdown(absl::ZeroDuration(), kDrain));
  EXPECT_TRUE(shutdown.initiated());
  EXPECT_EQ(shutdown.state(), v1::DRAINING) << v1::State_Name(shutdown.state());

  EXPECT_OK(KvPut(channel, "during", "2")) << "a call made during the drain must be answered";
  EXPECT_THAT(KvGet(channel, "before"), IsOkAndHolds("1"));
  ASSERT_OK_AND_ASSIGN(v1::Status status, server.status());
  EXPECT_EQ(status.state(), v1::DRAINING) << v1::State_Name(status.state());
  EXPECT_EQ(status.pid(), server.pid());
  EXPECT_THAT(HealthOf(server.control_channel()), IsOkAndHolds(ServingStatus::NOT_SERVING));
  if (GetParam().endpoint_health) {
    EXPECT_THAT(HealthOf(channel), IsOkAndHolds(ServingStatus::NOT_SERVING));
  }

  ExpectExitedZeroOnItsOwn(server, kExitBound, "the drain and a grace of 0");
}

TEST_P(DrainTest, ALaterShutdownWithDrainZeroEndsTheDrainAtOnce) {
  ASSERT_OK_AND_ASSIGN(Fixture server, Fixture::Start(Options("end")));
  ControlCalls control(server);
  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse first, control.Shutdown(absl::ZeroDuration(), kEndlessDrain));
  ASSERT_TRUE(first.initiated());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, server.channel());
  EXPECT_OK(KvPut(channel, "during", "1")) << "a call made during the drain must be answered";

  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse second, control.Shutdown(absl::ZeroDuration()));
  EXPECT_FALSE(second.initiated());
  ExpectExitedZeroOnItsOwn(server, kExitBound, "a second Shutdown with drain 0 (the first asked for 1h)");
}

TEST_P(DrainTest, AStopSignalEndsTheDrainAtOnce) {
  ASSERT_OK_AND_ASSIGN(Fixture server, Fixture::Start(Options("signal")));
  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse shutdown,
                       ControlCalls(server).Shutdown(absl::ZeroDuration(), kEndlessDrain));
  ASSERT_TRUE(shutdown.initiated());
  ASSERT_OK(server.Kill(SIGTERM));
  ExpectExitedZeroOnItsOwn(server, kExitBound, "SIGTERM during a 1h drain");
}

TEST_P(DrainTest, ADrainOutsideZeroToOneHourIsRefusedNamingTheFieldAndTheServerStaysUp) {
  ASSERT_OK_AND_ASSIGN(Fixture server, Fixture::Start(Options("bad")));
  ControlCalls control(server);
  EXPECT_THAT(control.Shutdown(absl::ZeroDuration(), absl::Seconds(-1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("drain: must not be negative, got -1s")));
  EXPECT_THAT(control.Shutdown(absl::ZeroDuration(), absl::Hours(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("drain: at most 1h, got 2h")));
  EXPECT_THAT(server.status(), IsServing());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, server.channel());
  EXPECT_OK(KvPut(channel, "after", "1"));
  EXPECT_THAT(HealthOf(server.control_channel()), IsOkAndHolds(ServingStatus::SERVING));
  EXPECT_THAT(server.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
}

// Stop() waits drain + grace + the control step's timeout: with a drain
// longer than the default grace (200ms) + timeout (1s), a wait without it
// would go on to SIGINT.
TEST_P(DrainTest, StopWithAStopPolicyDrainIsCleanAtTheControlStage) {
  FixtureOptions options = Options("policy");
  options.stop.drain = absl::Seconds(3);
  ASSERT_OK_AND_ASSIGN(Fixture server, Fixture::Start(options));
  ASSERT_OK_AND_ASSIGN(StopResult stopped, server.Stop());
  EXPECT_THAT(stopped, AllOf(StoppedBy(StopStage::kControl), StoppedCleanly())) << stopped.ToString();
}

}  // namespace
}  // namespace fixture::testing
