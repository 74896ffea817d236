// Control of a server's life from the test (Fixture::Kill, Pause, Resume,
// WaitForExit), on real processes with real signals: example/kv_server, which
// speaks the launch protocol, and Debian's redis-server, a foreign server
// ready by sd_notify. Nothing sleeps: each step waits on an event with a
// deadline (the exit, through WaitForExit itself, or a call's deadline).
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/any_server/wire_client.h"
#include "tests/control_calls.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

// Long enough for a call to a running server, even on a loaded machine.
constexpr absl::Duration kExitTimeout = absl::Seconds(10);
// A call to a paused server runs into this deadline.
constexpr absl::Duration kShortDeadline = absl::Milliseconds(200);

// redis-server on a Unix socket in the fixture's private directory.
FixtureOptions RedisOnASocket() { return RedisOptions({"--port", "0", "--unixsocket", "{dir}/redis.sock"}); }

std::string RedisAddress(const Fixture& redis) {
  return absl::StrCat("unix:", SocketDirOf(redis.control_address()), "/redis.sock");
}

// An ExitInfo by how the process ended.
auto KilledBy(int signal) { return AllOf(Field(&ExitInfo::signaled, true), Field(&ExitInfo::signal, signal)); }
auto ExitedWith(int code) { return AllOf(Field(&ExitInfo::signaled, false), Field(&ExitInfo::code, code)); }

TEST(FixtureLifecycleControlTest, KillWithSigkillIsReportedAsACrashAndStopFindsItAlreadyExited) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  const pid_t pid = kv.pid();

  ASSERT_OK(kv.Kill(SIGKILL));

  EXPECT_THAT(kv.WaitForExit(kExitTimeout), IsOkAndHolds(AllOf(KilledBy(SIGKILL), Field(&ExitInfo::pid, pid))));
  EXPECT_THAT(
      kv.CheckRunning(),
      AllOf(StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("killed by signal 9 (SIGKILL)")),
            CarriesFailure(AllOf(FailureAt(v1::Failure::SERVING, v1::Failure::EXITED), ProcessKilledBy(SIGKILL)))));
  EXPECT_THAT(kv.status(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("killed by signal 9")));
  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, AllOf(StoppedBy(StopStage::kAlreadyExited), Not(StoppedCleanly())));
  EXPECT_THAT(stopped.exit, KilledBy(SIGKILL));
  EXPECT_TRUE(IsReaped(pid));
}

TEST(FixtureLifecycleControlTest, KillWithSigtermOfRedisIsReportedAndWaitForExitReturnsItsExit) {
  ASSERT_OK_AND_ASSIGN(Fixture redis, Fixture::Start(RedisOnASocket()));
  ASSERT_THAT(RedisCommand(RedisAddress(redis), {"PING"}), IsOkAndHolds("+PONG"));

  ASSERT_OK(redis.Kill(SIGTERM));

  // redis ends on SIGTERM with status 0: an exit of its own, all the same.
  ASSERT_OK_AND_ASSIGN(ExitInfo exit, redis.WaitForExit(kExitTimeout));
  EXPECT_THAT(exit, ExitedWith(0));
  EXPECT_THAT(redis.CheckRunning(),
              AllOf(StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("exited with status 0 while serving")),
                    CarriesFailure(AllOf(FailureAt(v1::Failure::SERVING, v1::Failure::EXITED), ProcessExitedWith(0)))));
  ASSERT_OK_AND_ASSIGN(StopResult stopped, redis.Stop());
  EXPECT_THAT(stopped, AllOf(StoppedBy(StopStage::kAlreadyExited), Not(StoppedCleanly())));
  EXPECT_EQ(stopped.exit.pid, exit.pid);
  EXPECT_THAT(stopped.exit, ExitedWith(0));
}

TEST(FixtureLifecycleControlTest, APausedServerAnswersNoCallUntilItIsResumed) {
  FixtureOptions options = KvOptions();
  options.rpc_timeout = kShortDeadline;
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "apple", "red"));

  ASSERT_OK(kv.Pause());

  EXPECT_THAT(KvGet(channel, "apple", kShortDeadline), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(kv.status(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_OK(kv.CheckRunning());  // Hanging, not dead.

  ASSERT_OK(kv.Resume());

  // The same call, now answered (with the usual deadline: a loaded machine
  // may take a moment to schedule the thawed server).
  EXPECT_THAT(KvGet(channel, "apple"), IsOkAndHolds("red"));
  EXPECT_THAT(kv.status(), IsServing());
  EXPECT_THAT(kv.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
}

TEST(FixtureLifecycleControlTest, StopOfAPausedServerResumesItAndStopsItByControlShutdown) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  const pid_t pid = kv.pid();
  ASSERT_OK(kv.Pause());

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());

  EXPECT_THAT(stopped, AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
  EXPECT_EQ(stopped.detail, "") << stopped.ToString();
  // Within the control step: its call's timeout, then the grace and the
  // timeout again for the exit.
  const StopPolicy policy;
  EXPECT_LT(stopped.duration, 2 * policy.steps[0].timeout + policy.grace) << stopped.ToString();
  EXPECT_TRUE(IsReaped(pid));
}

TEST(FixtureLifecycleControlTest, ADestroyedPausedServerIsResumedAndStoppedCleanly) {
  pid_t pid = -1;
  {
    ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
    pid = kv.pid();
    ASSERT_OK(kv.Pause());
  }
  EXPECT_TRUE(IsReaped(pid));
}

TEST(FixtureLifecycleControlTest, PauseTwiceAndResumeWithoutPauseAreRefusedAndLeaveTheServerAsItWas) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "apple", "red"));

  EXPECT_THAT(kv.Resume(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not paused")));
  EXPECT_THAT(KvGet(channel, "apple"), IsOkAndHolds("red"));  // Still serving.

  ASSERT_OK(kv.Pause());
  EXPECT_THAT(kv.Pause(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is already paused")));
  EXPECT_THAT(KvGet(channel, "apple", kShortDeadline), StatusIs(absl::StatusCode::kDeadlineExceeded));  // Still paused.

  ASSERT_OK(kv.Resume());
  EXPECT_THAT(KvGet(channel, "apple"), IsOkAndHolds("red"));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FixtureLifecycleControlTest, SignalsAfterStopAndBadSignalsAreRefused) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());

  EXPECT_THAT(kv.Kill(0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no such signal")));
  EXPECT_THAT(kv.Kill(65), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no such signal")));
  EXPECT_THAT(kv.Kill(SIGSTOP), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Pause()")));
  EXPECT_THAT(kv.Kill(SIGCONT), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Resume()")));
  EXPECT_THAT(KvPut(channel, "apple", "red"), IsOk());  // Nothing was sent.

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  ASSERT_THAT(stopped, StoppedCleanly());

  EXPECT_THAT(kv.Kill(SIGKILL), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         AllOf(HasSubstr("Kill(SIGKILL), nothing sent"), HasSubstr("was stopped"))));
  EXPECT_THAT(kv.Pause(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was stopped")));
  EXPECT_THAT(kv.Resume(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was stopped")));
  // The stop's result is unchanged, and WaitForExit gives its exit.
  EXPECT_THAT(kv.Stop(), IsOkAndHolds(Field(&StopResult::stage, stopped.stage)));
  EXPECT_THAT(kv.WaitForExit(absl::ZeroDuration()), IsOkAndHolds(ExitedWith(0)));
}

TEST(FixtureLifecycleControlTest, SignalsToAServerThatExitedAreRefused) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ASSERT_OK(kv.Kill(SIGKILL));
  ASSERT_OK(kv.WaitForExit(kExitTimeout));

  EXPECT_THAT(kv.Kill(SIGTERM), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("killed by signal 9")));
  EXPECT_THAT(kv.Pause(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("killed by signal 9")));
  EXPECT_THAT(kv.Stop(), StoppedBy(StopStage::kAlreadyExited));
}

TEST(FixtureLifecycleControlTest, WaitForExitTimesOutOnARunningServerWhichStillServes) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());

  EXPECT_THAT(kv.WaitForExit(absl::Milliseconds(50)),
              AllOf(StatusIs(absl::StatusCode::kDeadlineExceeded,
                             AllOf(HasSubstr(absl::StrCat("pid ", kv.pid())), HasSubstr("WaitForExit(50ms)"))),
                    CarriesFailure(FailureAt(v1::Failure::SERVING, v1::Failure::TIMED_OUT))));

  EXPECT_OK(KvPut(channel, "apple", "red"));
  EXPECT_THAT(kv.status(), IsServing());
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FixtureLifecycleControlTest, WaitForExitReturnsTheExitOfAServerThatStopsOnItsOwn) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions()));
  const pid_t pid = kv.pid();
  ControlCalls control(kv);

  ASSERT_OK(control.Shutdown(absl::ZeroDuration()));

  ASSERT_OK_AND_ASSIGN(ExitInfo exit, kv.WaitForExit(kExitTimeout));
  EXPECT_THAT(exit, AllOf(ExitedWith(0), Field(&ExitInfo::pid, pid)));
  // Asking again, and stopping, give the same exit.
  EXPECT_THAT(kv.WaitForExit(absl::ZeroDuration()), IsOkAndHolds(ExitedWith(0)));
  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kAlreadyExited));
  EXPECT_EQ(stopped.exit.pid, pid);
  EXPECT_THAT(stopped.exit, ExitedWith(0));
  EXPECT_TRUE(IsReaped(pid));
}

TEST(FixtureLifecycleControlTest, PauseAndResumeOfRedisReachItsProcessGroup) {
  ASSERT_OK_AND_ASSIGN(Fixture redis, Fixture::Start(RedisOnASocket()));
  const std::string address = RedisAddress(redis);
  ASSERT_THAT(RedisCommand(address, {"SET", "greeting", "hello"}), IsOkAndHolds("+OK"));

  ASSERT_OK(redis.Pause());

  EXPECT_THAT(RedisCommand(address, {"GET", "greeting"}, kShortDeadline),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // The parent serves a foreign server's control socket: it still answers.
  EXPECT_THAT(redis.status(), IsServing());
  EXPECT_THAT(redis.WaitForExit(absl::Milliseconds(10)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("it is paused")));

  ASSERT_OK(redis.Resume());
  EXPECT_THAT(RedisCommand(address, {"GET", "greeting"}), IsOkAndHolds("$5\nhello"));

  // Paused again, it is resumed by Stop(), and stops by its stop signal.
  ASSERT_OK(redis.Pause());
  EXPECT_THAT(redis.Stop(), AllOf(StoppedBySignal(SIGTERM), StoppedCleanly()));
}

}  // namespace
}  // namespace fixture::testing
