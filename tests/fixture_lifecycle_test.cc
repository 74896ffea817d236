// A kv_server fixture's life when everything goes right: start, ready, status,
// real RPCs, the control channel (WaitReady, Shutdown, Watch), several
// fixtures at once, and a stop (explicit or by the destructor) that leaves
// nothing behind.
#include <sys/types.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/grpc_status.h"
#include "fixture/launch/proto_time.h"
#include "fixture/launch/socket_path.h"
#include "fixture/proto/control.grpc.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kControlCallDeadline = absl::Seconds(10);

TEST(FixtureLifecycleTest, FullLifecycleServesDataCountsCallsAndStopsCleanlyThroughControl) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("kv", {"--label=suite=lifecycle"})));
  const pid_t pid = kv.pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(kv.name(), "kv");
  printf("fork->ready: %s\n", absl::FormatDuration(kv.timeline().fork_to_ready()).c_str());

  // The control socket lives alone in a private directory.
  ASSERT_THAT(kv.control_address(), ::testing::StartsWith("unix:"));
  const std::string socket_path = UnixSocketPath(kv.control_address());
  const std::string socket_dir = DirName(socket_path);
  EXPECT_TRUE(PathExists(socket_path)) << socket_path;
  EXPECT_THAT(socket_dir, HasSubstr("/fixture-"));

  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(status.pid(), pid);
  EXPECT_THAT(status, IsServing());
  EXPECT_EQ(status.name(), "kv");
  EXPECT_THAT(status.labels(), UnorderedElementsAre(Pair("suite", "lifecycle"), Pair("server", "kv_server")));
  ASSERT_EQ(status.endpoints_size(), 1) << status.DebugString();
  const v1::Endpoint& grpc_endpoint = status.endpoints(0);
  EXPECT_EQ(grpc_endpoint.name(), "grpc");
  EXPECT_GT(grpc_endpoint.port(), 0);
  EXPECT_EQ(grpc_endpoint.address(), absl::StrCat("127.0.0.1:", grpc_endpoint.port()));
  // The ReadyNotice and the status agree.
  EXPECT_THAT(kv.endpoint("grpc"), IsOkAndHolds(grpc_endpoint.address()));
  ASSERT_EQ(kv.endpoints().size(), 1u);
  EXPECT_EQ(kv.endpoints()[0].port(), grpc_endpoint.port());
  // No call reached the service yet.
  EXPECT_THAT(status.method_calls(), IsEmpty()) << status.DebugString();

  // Data really crosses the process boundary, through the reported address.
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(grpc_endpoint.address(), grpc::InsecureChannelCredentials());
  ASSERT_OK(KvPut(channel, "apple", "red"));
  ASSERT_OK(KvPut(channel, "banana", "yellow"));
  EXPECT_THAT(KvGet(channel, "apple"), IsOkAndHolds("red"));

  ASSERT_OK_AND_ASSIGN(status, kv.status());
  EXPECT_EQ(CallsOf(status, kPutMethod), 2) << status.DebugString();
  EXPECT_EQ(CallsOf(status, kGetMethod), 1) << status.DebugString();
  // Control calls (two GetStatus by now) are not counted.
  EXPECT_EQ(status.method_calls_size(), 2) << status.DebugString();
  EXPECT_OK(kv.CheckRunning());

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));
  EXPECT_THAT(stopped, StoppedCleanly());
  EXPECT_EQ(stopped.exit.pid, pid);
  EXPECT_EQ(stopped.exit.ToString(), "exited with status 0");
  EXPECT_EQ(stopped.detail, "");
  EXPECT_EQ(stopped.stderr_tail, "");

  EXPECT_FALSE(PathExists(socket_path)) << socket_path << " is left behind";
  EXPECT_FALSE(PathExists(socket_dir)) << socket_dir << " is left behind";
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
}

TEST(FixtureLifecycleTest, StopAgainReturnsTheSameResultAndStatusSaysItWasStopped) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  const pid_t pid = kv.pid();

  ASSERT_OK_AND_ASSIGN(StopResult first, kv.Stop());
  ASSERT_THAT(first, StoppedBy(StopStage::kControl));

  ASSERT_OK_AND_ASSIGN(StopResult second, kv.Stop());
  EXPECT_THAT(second, StoppedBy(StopStage::kControl));
  EXPECT_EQ(second.exit.pid, pid);
  EXPECT_EQ(second.exit.code, 0);
  EXPECT_EQ(second.duration, first.duration);

  EXPECT_THAT(kv.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    AllOf(HasSubstr(absl::StrCat("server pid ", pid, " was stopped")),
                                          HasSubstr("exited with status 0"))));
  EXPECT_THAT(kv.CheckRunning(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was stopped")));
}

TEST(FixtureLifecycleTest, UnknownEndpointIsNotFoundListingTheEndpointsThereAre) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));

  EXPECT_THAT(kv.endpoint("admin"),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("fixture \"kv\" has no endpoint \"admin\""), HasSubstr("it has: grpc"))));
  EXPECT_THAT(kv.channel("admin"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"admin\"")));
}

TEST(FixtureLifecycleTest, DestructorStopsTheServerAndLeavesNoZombieOrSocket) {
  pid_t pid = -1;
  std::string socket_path;
  {
    ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
    pid = kv.pid();
    socket_path = UnixSocketPath(kv.control_address());
    ASSERT_TRUE(ReadProc(pid).has_value()) << "/proc/" << pid << " should exist while the fixture lives";
    ASSERT_TRUE(PathExists(socket_path));
  }  // ~Fixture: stop and reap.

  EXPECT_FALSE(ReadProc(pid).has_value()) << "/proc/" << pid << " still exists: " << IsReaped(pid).message();
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
  EXPECT_FALSE(PathExists(socket_path)) << socket_path << " is left behind";
  EXPECT_FALSE(PathExists(DirName(socket_path))) << DirName(socket_path) << " is left behind";
}

TEST(FixtureLifecycleTest, MoveAssigningOverARunningFixtureStopsTheOldServer) {
  ASSERT_OK_AND_ASSIGN(Fixture first, Fixture::Start(KvOptions("first")));
  ASSERT_OK_AND_ASSIGN(Fixture second, Fixture::Start(KvOptions("second")));
  const pid_t first_pid = first.pid();
  const pid_t second_pid = second.pid();

  first = std::move(second);

  EXPECT_TRUE(IsReaped(first_pid));
  EXPECT_EQ(first.pid(), second_pid);
  EXPECT_EQ(first.name(), "second");
  EXPECT_OK(first.CheckRunning());
  EXPECT_THAT(first.Stop(), StoppedCleanly());
}

TEST(FixtureLifecycleTest, TwoFixturesRunSideBySideWithSeparateProcessesPortsAndData) {
  ASSERT_OK_AND_ASSIGN(Fixture a, Fixture::Start(KvOptions("kv_a")));
  ASSERT_OK_AND_ASSIGN(Fixture b, Fixture::Start(KvOptions("kv_b")));

  EXPECT_NE(a.pid(), b.pid());
  EXPECT_NE(a.control_address(), b.control_address());
  ASSERT_EQ(a.endpoints().size(), 1u);
  ASSERT_EQ(b.endpoints().size(), 1u);
  EXPECT_GT(a.endpoints()[0].port(), 0);
  EXPECT_GT(b.endpoints()[0].port(), 0);
  EXPECT_NE(a.endpoints()[0].port(), b.endpoints()[0].port());

  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> to_a, a.channel());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> to_b, b.channel());
  ASSERT_OK(KvPut(to_a, "where", "in a"));
  ASSERT_OK(KvPut(to_b, "where", "in b"));
  ASSERT_OK(KvPut(to_a, "only-a", "1"));

  EXPECT_THAT(KvGet(to_a, "where"), IsOkAndHolds("in a"));
  EXPECT_THAT(KvGet(to_b, "where"), IsOkAndHolds("in b"));
  EXPECT_THAT(KvGet(to_b, "only-a"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("key \"only-a\" has no value")));

  ASSERT_OK_AND_ASSIGN(v1::Status status_a, a.status());
  ASSERT_OK_AND_ASSIGN(v1::Status status_b, b.status());
  EXPECT_EQ(status_a.pid(), a.pid());
  EXPECT_EQ(status_b.pid(), b.pid());
  EXPECT_EQ(status_a.name(), "kv_a");
  EXPECT_EQ(status_b.name(), "kv_b");
  EXPECT_EQ(CallsOf(status_a, kPutMethod), 2);
  EXPECT_EQ(CallsOf(status_b, kPutMethod), 1);
  EXPECT_EQ(CallsOf(status_b, kGetMethod), 2);

  EXPECT_THAT(a.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
  EXPECT_THAT(b.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
}

TEST(FixtureLifecycleTest, WatchSendsServingThenDrainingAndStoppingOnStopThenEndsOk) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  std::unique_ptr<v1::FixtureControl::Stub> control = v1::FixtureControl::NewStub(kv.control_channel());

  absl::Mutex mu;
  std::vector<v1::State> states;  // Guarded by mu.
  grpc::Status finished;
  absl::Notification first_message;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  bool joined = false;
  std::thread reader([&] {
    std::unique_ptr<grpc::ClientReader<v1::StateChange>> stream = control->Watch(&context, v1::WatchRequest());
    v1::StateChange change;
    while (stream->Read(&change)) {
      {
        absl::MutexLock lock(&mu);
        states.push_back(change.state());
      }
      if (!first_message.HasBeenNotified()) first_message.Notify();
    }
    finished = stream->Finish();
    if (!first_message.HasBeenNotified()) first_message.Notify();
  });
  absl::Cleanup cancel_and_join = [&] {  // Only when an assertion failed.
    if (joined) return;
    context.TryCancel();
    reader.join();
  };

  // The stream is up and has said where the server stands before the stop.
  ASSERT_TRUE(first_message.WaitForNotificationWithTimeout(absl::Seconds(10)));
  {
    absl::MutexLock lock(&mu);
    ASSERT_THAT(states, ElementsAre(v1::SERVING));
  }

  absl::StatusOr<StopResult> stopped = kv.Stop();
  reader.join();  // The stream ends by itself after STOPPING (30 s deadline otherwise).
  joined = true;
  EXPECT_THAT(stopped, StoppedCleanly());

  EXPECT_OK(FromGrpc(finished, "Watch")) << kv.StderrTail();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(states, ElementsAre(v1::SERVING, v1::DRAINING, v1::STOPPING)) << kv.StderrTail();
}

TEST(FixtureLifecycleTest, WaitReadyOnTheControlChannelReturnsServingStatus) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  std::unique_ptr<v1::FixtureControl::Stub> control = v1::FixtureControl::NewStub(kv.control_channel());

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kControlCallDeadline));
  v1::WaitReadyRequest request;
  *request.mutable_timeout() = ToProtoDuration(absl::Seconds(5));
  v1::WaitReadyResponse response;
  ASSERT_OK(FromGrpc(control->WaitReady(&context, request, &response), "WaitReady"));

  EXPECT_THAT(response.status(), IsServing());
  EXPECT_EQ(response.status().pid(), kv.pid());
  ASSERT_EQ(response.status().endpoints_size(), 1) << response.DebugString();
  EXPECT_EQ(response.status().endpoints(0).name(), "grpc");
  EXPECT_EQ(response.status().endpoints(0).port(), kv.endpoints()[0].port());
}

TEST(FixtureLifecycleTest, ControlRequestsWithBadDurationsAreInvalidArgumentAndTheServerStaysUp) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  std::unique_ptr<v1::FixtureControl::Stub> control = v1::FixtureControl::NewStub(kv.control_channel());

  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kControlCallDeadline));
    v1::ShutdownRequest request;
    *request.mutable_grace() = ToProtoDuration(absl::Seconds(-1));
    v1::ShutdownResponse response;
    EXPECT_THAT(FromGrpc(control->Shutdown(&context, request, &response)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("grace: must not be negative, got -1s")));
  }
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kControlCallDeadline));
    v1::ShutdownRequest request;
    *request.mutable_grace() = ToProtoDuration(absl::Hours(2));
    v1::ShutdownResponse response;
    EXPECT_THAT(FromGrpc(control->Shutdown(&context, request, &response)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("grace: at most 1h")));
  }
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kControlCallDeadline));
    v1::WaitReadyRequest request;
    *request.mutable_timeout() = ToProtoDuration(absl::Milliseconds(-5));
    v1::WaitReadyResponse response;
    EXPECT_THAT(FromGrpc(control->WaitReady(&context, request, &response)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timeout: must not be negative")));
  }

  // None of it started a stop.
  EXPECT_THAT(kv.status(), IsServing());
  EXPECT_THAT(kv.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
}

}  // namespace
}  // namespace fixture::testing
