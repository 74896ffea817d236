// Connection-level faults (FixtureControl.DropConnections) against real
// kv_server processes and the attached example server, driven by real
// clients: a call in flight loses its connection and fails UNAVAILABLE while
// the channel reconnects; a refusal lets no call through until it ends (or
// ClearFaults ends it); the control socket's connection is never closed; bad
// input is refused naming the field, with the server still up.
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/fixture.h"
#include "fixture/grpc_status.h"
#include "fixture/launch/proto_time.h"
#include "fixture/proto/control.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/control_calls.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::Ge;
using ::testing::HasSubstr;

constexpr char kPutMethod[] = "/fixture.example.v1.KeyValue/Put";
constexpr absl::Duration kWait = absl::Seconds(10);

// Waits until `channel` has left READY (it read its connection's end), or
// for kWait: whether it did.
bool LeavesReady(const std::shared_ptr<grpc::Channel>& channel) {
  const absl::Time deadline = absl::Now() + kWait;
  while (channel->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY) {
    if (!channel->WaitForStateChange(GRPC_CHANNEL_READY, absl::ToChronoTime(deadline))) return false;
  }
  return true;
}

// Waits until the server under test reports `hits` hits of fault `id` (a
// call reached it and is being delayed), or for kWait.
absl::Status AwaitHits(Fixture& server, int64_t id, int64_t hits) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::Status> status = server.status();
    if (!status.ok()) return status.status();
    for (const v1::Fault& fault : status->faults()) {
      if (fault.id() == id && fault.hits() >= hits) return absl::OkStatus();
    }
  }
  return absl::DeadlineExceededError(
      absl::StrCat("fault ", id, " did not reach ", hits, " hits in ", absl::FormatDuration(kWait)));
}

TEST(ConnectionFaultsTest, ACallInFlightLosesItsConnectionAndTheChannelReconnects) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ControlCalls control(kv);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  // The next Put is held far longer than the test waits for it.
  v1::FaultSpec hold;
  hold.set_method(kPutMethod);
  *hold.mutable_delay() = ToProtoDuration(absl::Minutes(10));
  hold.set_count(1);
  ASSERT_OK_AND_ASSIGN(int64_t id, control.InjectFault(hold));
  absl::Status held;
  std::thread put([&] { held = KvPut(channel, "apple", "red"); });
  ASSERT_OK(AwaitHits(kv, id, 1));

  EXPECT_THAT(control.DropConnections(), IsOkAndHolds(Ge(1)));

  put.join();
  EXPECT_THAT(held, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(LeavesReady(channel));
  EXPECT_OK(KvPut(channel, "apple", "green"));  // A new connection.
  EXPECT_THAT(KvGet(channel, "apple"), IsOkAndHolds("green"));
  // The control socket's own connection was left alone.
  EXPECT_EQ(kv.control_channel()->GetState(/*try_to_connect=*/false), GRPC_CHANNEL_READY);
  EXPECT_THAT(kv.Stop(), StoppedCleanly());  // Ends the held call's delay.
}

TEST(ConnectionFaultsTest, WhileConnectionsAreRefusedNoCallGetsThroughThenEveryCallDoes) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ControlCalls control(kv);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "apple", "red"));
  constexpr absl::Duration kRefusal = absl::Milliseconds(400);

  const absl::Time asked = absl::Now();
  ASSERT_THAT(control.DropConnections(kRefusal), IsOkAndHolds(1));

  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  ASSERT_TRUE(status.has_refusing_connections_until());
  const absl::Time until = FromProtoTimestamp(status.refusing_connections_until());
  EXPECT_GE(until, asked + kRefusal);
  // Each call reconnects, and loses the new connection too.
  for (int i = 0; i < 3 && absl::Now() + absl::Milliseconds(100) < until; ++i) {
    EXPECT_THAT(KvGet(channel, "apple"), StatusIs(absl::StatusCode::kUnavailable)) << "call " << i;
  }
  absl::SleepFor(until - absl::Now());  // The refusal's end is a time the server gave.
  EXPECT_TRUE(LeavesReady(channel));    // It read the last refused call's connection end.
  EXPECT_THAT(KvGet(channel, "apple"), IsOkAndHolds("red"));
  ASSERT_OK_AND_ASSIGN(status, kv.status());
  EXPECT_FALSE(status.has_refusing_connections_until());
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(ConnectionFaultsTest, ClearFaultsEndsARefusalEarly) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ControlCalls control(kv);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_THAT(control.DropConnections(absl::Hours(1)), IsOkAndHolds(0));  // No client connected yet.
  EXPECT_THAT(KvPut(channel, "apple", "red"), StatusIs(absl::StatusCode::kUnavailable));
  // The refused call's connection was closed; the channel may not have read
  // that yet, and would send the next call on it.
  EXPECT_TRUE(LeavesReady(channel));

  EXPECT_THAT(control.ClearFaults(std::nullopt), IsOkAndHolds(0));  // No fault was listed; the refusal ends.

  EXPECT_OK(KvPut(channel, "apple", "red"));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(ConnectionFaultsTest, BadInputIsRefusedNamingTheFieldAndTheServerStaysUp) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ControlCalls control(kv);
  EXPECT_THAT(control.DropConnections(absl::Milliseconds(-5)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refuse_for")));
  EXPECT_THAT(control.DropConnections(absl::Hours(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refuse_for")));
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_FALSE(status.has_refusing_connections_until());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  EXPECT_OK(KvPut(channel, "apple", "red"));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(ConnectionFaultsTest, AnAttachedServersConnectionsAreDroppedToo) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(AttachedKvOptions()));
  ControlCalls control(kv);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "apple", "red"));

  EXPECT_THAT(control.DropConnections(), IsOkAndHolds(1));

  EXPECT_TRUE(LeavesReady(channel));
  EXPECT_THAT(KvGet(channel, "apple"), IsOkAndHolds("red"));  // The same process, a new connection.
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

}  // namespace
}  // namespace fixture::testing
