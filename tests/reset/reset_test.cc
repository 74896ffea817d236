// FixtureControl.Reset against real server processes: example/kv_server
// (exec'ed; its hook empties the store) and servers registered here (forked
// by the fork server): one without a hook, one whose hook fails, and one
// that holds a call so that a stop stays DRAINING while Reset is refused.
#include <signal.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/example/kv_service.h"
#include "fixture/fixture.h"
#include "fixture/server/registry.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/control_calls.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kDeleteMethod[] = "/fixture.example.v1.KeyValue/Delete";

// The example service with no reset hook.
FIXTURE_SERVER(KvWithoutResetHook, setup, args) {
  static example::KeyValueService kv;
  return setup.AddService(&kv);
}

// The example service whose reset hook fails, as one that cannot reach its
// store would.
FIXTURE_SERVER(KvWithFailingResetHook, setup, args) {
  static example::KeyValueService kv;
  setup.OnReset([] { return absl::DataLossError("the store is read-only"); });
  return setup.AddService(&kv);
}

// The example service whose Get of key "hold" is held in its handler until
// the client cancels it (or the stop's grace ends), so that a stop stays
// DRAINING. Its reset hook is how the test learns that a Get is held: it
// returns once one is (DEADLINE_EXCEEDED after 10 s).
class HoldingKv final : public example::KeyValueService {
 public:
  grpc::Status Get(grpc::ServerContext* context, const example::v1::GetRequest* request,
                   example::v1::GetResponse* response) override {
    if (request->key() != "hold") return KeyValueService::Get(context, request, response);
    held_.Notify();
    // gRPC's synchronous API has no cancellation callback: look every 5 ms.
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return grpc::Status(grpc::StatusCode::CANCELLED, "held until cancelled");
  }
  absl::Status AwaitHeld() {
    if (held_.WaitForNotificationWithTimeout(absl::Seconds(10))) return absl::OkStatus();
    return absl::DeadlineExceededError("no Get of \"hold\" arrived");
  }

 private:
  absl::Notification held_;
};

FIXTURE_SERVER(KvHoldingAGet, setup, args) {
  static HoldingKv kv;
  setup.OnReset([] { return kv.AwaitHeld(); });
  return setup.AddService(&kv);
}

v1::FaultSpec Failing(std::string method) {
  v1::FaultSpec spec;
  spec.set_method(std::move(method));
  spec.set_code(grpc::StatusCode::UNAVAILABLE);
  return spec;
}

// A server that served a Put and a Get of "k" and has a fault on Delete.
void Dirty(Fixture& server) {
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, server.channel());
  ASSERT_OK(KvPut(channel, "k", "v"));
  ASSERT_THAT(KvGet(channel, "k"), IsOkAndHolds("v"));
  ASSERT_OK(ControlCalls(server).InjectFault(Failing(kDeleteMethod)));
}

// What Dirty() left is all still there.
void ExpectUntouched(Fixture& server) {
  EXPECT_THAT(server.status(), AllOf(CalledTimes(kPutMethod, 1), CalledTimes(kGetMethod, 1)));
  EXPECT_THAT(ControlCalls(server).ListFaults(), IsOkAndHolds(SizeIs(1)));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, server.channel());
  EXPECT_THAT(KvGet(channel, "k"), IsOkAndHolds("v"));
}

TEST(ResetTest, TheKvServerForgetsItsDataCallsAndFaults) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("kv")));
  Dirty(kv);

  ASSERT_OK_AND_ASSIGN(v1::ResetResponse reset, kv.Reset());
  EXPECT_EQ(reset.faults_cleared(), 1);

  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_THAT(status, IsServing());
  EXPECT_THAT(status.method_calls(), IsEmpty());
  EXPECT_THAT(status.faults(), IsEmpty());
  EXPECT_THAT(ControlCalls(kv).ListFaults(), IsOkAndHolds(IsEmpty()));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  EXPECT_THAT(KvGet(channel, "k"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("has no value")));
  // The server goes on serving, counting from zero, and resets again.
  ASSERT_OK(KvPut(channel, "k2", "v2"));
  EXPECT_THAT(kv.status(), AllOf(CalledTimes(kGetMethod, 1), CalledTimes(kPutMethod, 1)));
  EXPECT_THAT(kv.Reset(), IsOk());
  EXPECT_THAT(KvGet(channel, "k2"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(ResetTest, WithoutAHookFailsSayingHowToRegisterOneAndClearsNothing) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start({.name = "nohook", .program = Registered{"KvWithoutResetHook"}}));
  Dirty(kv);

  EXPECT_THAT(kv.Reset(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("no reset hook"), HasSubstr("register one with ServerSetup::OnReset"))));
  ExpectUntouched(kv);
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(ResetTest, AFailingHookGivesItsCodeBackAndClearsNothing) {
  ASSERT_OK_AND_ASSIGN(Fixture kv,
                       Fixture::Start({.name = "failing", .program = Registered{"KvWithFailingResetHook"}}));
  Dirty(kv);

  EXPECT_THAT(kv.Reset(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("reset hook failed: the store is read-only")));
  ExpectUntouched(kv);
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(ResetTest, OfAServerThatDiedSaysHowItEnded) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("kv")));
  ASSERT_OK(kv.Kill(SIGKILL));
  ASSERT_OK(kv.WaitForExit(absl::Seconds(10)).status());

  EXPECT_THAT(kv.Reset(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                   AllOf(HasSubstr("killed by signal 9"), HasSubstr("while serving"))));
}

TEST(ResetTest, OnceAStopBeganResetIsRefusedNamingTheState) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start({.name = "holding", .program = Registered{"KvHoldingAGet"}}));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  grpc::ClientContext held_context;
  held_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::Status held_status;
  std::thread held([&] {
    example::v1::GetRequest request;
    request.set_key("hold");
    example::v1::GetResponse response;
    held_status = example::v1::KeyValue::NewStub(channel)->Get(&held_context, request, &response);
  });
  absl::Cleanup release = [&] {
    held_context.TryCancel();
    held.join();
  };
  ControlCalls control(kv);
  ASSERT_OK(control.Reset().status());  // Returns once the Get is held.

  // The held call keeps the stop DRAINING for up to the grace.
  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse shutdown, control.Shutdown(absl::Seconds(30)));
  EXPECT_EQ(shutdown.state(), v1::DRAINING);
  EXPECT_THAT(control.Reset(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("the server is DRAINING")));

  std::move(release).Invoke();  // The Get ends; so does the stop, with exit status 0.
  EXPECT_EQ(held_status.error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_TRUE(stopped.exit.success()) << stopped.ToString();
}

}  // namespace
}  // namespace fixture::testing
