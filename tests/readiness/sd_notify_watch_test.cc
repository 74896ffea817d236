// ReadyBySdNotify against real daemons: Debian's redis-server
// (--supervised systemd, libsystemd's sd_notify) ready, and dying before it
// is ready; notify_sender.py for what redis never says (a STATUS= without
// READY=1, ERRNO=, STOPPING=1, MAINPID= of a forked daemon, a barrier's
// descriptor).
#include "fixture/sd_notify_watch.h"

#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/poll.h"
#include "fixture/private_dir.h"
#include "fixture/ready_watch.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/readiness/readiness_test_util.h"

namespace fixture {
namespace {

using ::fixture::readiness_test::IsOutcome;
using ::fixture::readiness_test::kLongWait;
using ::fixture::readiness_test::kShortWait;
using ::fixture::readiness_test::RedisCommand;
using ::fixture::readiness_test::StartChild;
using ::fixture::testing::IsOkAndHolds;
using ::fixture::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Ne;
using ::testing::Pair;

constexpr char kRedis[] = "/usr/bin/redis-server";
constexpr char kPython[] = "/usr/bin/python3";
constexpr char kSender[] = "tests/readiness/notify_sender.py";

class SdNotifyWatchTest : public readiness_test::WatchTest {
 protected:
  void SetUp() override {
    WatchTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_OK_AND_ASSIGN(watch_, ReadyWatch::Create(ReadyBySdNotify{}, WatchContext{.dir = dir_->path()}));
  }

  // The child's environment: NOTIFY_SOCKET, as the fixture passes it.
  std::vector<std::pair<std::string, std::string>> Env() const { return watch_->ChildEnvironment(); }

  // `redis-server --supervised systemd` on a unix socket in the directory.
  std::vector<std::string> Redis(const std::string& unixsocket) const {
    return {kRedis,     "--supervised", "systemd", "--port", "0",         "--unixsocket",
            unixsocket, "--save",       "",        "--dir",  dir_->path()};
  }

  std::unique_ptr<ReadyWatch> watch_;
};

TEST_F(SdNotifyWatchTest, TellsTheChildWhereTheSocketIs) {
  EXPECT_THAT(Env(), ::testing::ElementsAre(Pair("NOTIFY_SOCKET", dir_->File("notify.sock"))));
  EXPECT_THAT(watch_->LastSeen(), HasSubstr("nothing received on NOTIFY_SOCKET="));
}

TEST_F(SdNotifyWatchTest, RedisIsReadyWhenItSaysReadyAndServes) {
  const std::string socket = dir_->File("redis.sock");
  ASSERT_OK_AND_ASSIGN(ChildProcess redis, StartChild(Redis(socket), {}, Env()));

  EXPECT_THAT(watch_->Await(redis.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
  EXPECT_THAT(RedisCommand(socket, "PING"), IsOkAndHolds("+PONG"));
  EXPECT_THAT(watch_->Labels(),
              AllOf(Contains(Pair("readiness", "sd_notify")), Contains(Pair("status", "Ready to accept connections"))));
  EXPECT_EQ(watch_->LastSeen(), "last STATUS=Ready to accept connections");

  // Stopped by SIGTERM, redis says STOPPING=1: Labels() reads it, after ready.
  ASSERT_OK(redis.Signal(SIGTERM));
  ASSERT_OK_AND_ASSIGN(std::optional<ExitInfo> exit, redis.WaitUntil(absl::Now() + kLongWait));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->ToString();
  EXPECT_THAT(watch_->Labels(), Contains(Pair("stopping", "1")));
}

TEST_F(SdNotifyWatchTest, RedisThatCannotListenIsSeenExitedAtOnce) {
  // The socket's directory does not exist: redis exits 1 before READY=1.
  ASSERT_OK_AND_ASSIGN(ChildProcess redis, StartChild(Redis(dir_->File("no/such/dir/redis.sock")), {}, Env()));

  EXPECT_THAT(watch_->Await(redis.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kExited));
  ASSERT_OK_AND_ASSIGN(std::optional<ExitInfo> exit, redis.WaitUntil(absl::Now() + kLongWait));
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->success());
}

TEST_F(SdNotifyWatchTest, NeverReadyTimesOutWithTheLastStatus) {
  ASSERT_OK_AND_ASSIGN(readiness_test::Pipe out, readiness_test::MakePipe());
  ASSERT_OK_AND_ASSIGN(ChildProcess sender, StartChild({kPython, kSender, "status"}, {.out = out.write.get()}, Env()));
  // It has sent its STATUS= (and will say no more).
  ASSERT_THAT(PollReadable(out.read.get(), absl::Now() + kLongWait, "sender's stdout"), IsOkAndHolds(true));

  ASSERT_OK_AND_ASSIGN(WatchOutcome outcome, watch_->Await(sender.pidfd(), absl::Now() + kShortWait));
  EXPECT_EQ(outcome.kind, WatchOutcome::kTimedOut);
  EXPECT_EQ(watch_->LastSeen(), "last STATUS=Loading the data set");
  EXPECT_THAT(watch_->Labels(), Contains(Pair("status", "Loading the data set")));
}

TEST_F(SdNotifyWatchTest, ErrnoBeforeReadyIsTheServersOwnFailure) {
  ASSERT_OK_AND_ASSIGN(ChildProcess sender, StartChild({kPython, kSender, "errno"}, {}, Env()));
  EXPECT_THAT(
      watch_->Await(sender.pidfd(), absl::Now() + kLongWait),
      StatusIs(absl::StatusCode::kFailedPrecondition, AllOf(HasSubstr("ERRNO=2 (No such file or directory)"),
                                                            HasSubstr("last STATUS=Cannot open /etc/sender.conf"))));
}

TEST_F(SdNotifyWatchTest, StoppingBeforeReadyIsTheServersOwnFailure) {
  ASSERT_OK_AND_ASSIGN(ChildProcess sender, StartChild({kPython, kSender, "stopping"}, {}, Env()));
  EXPECT_THAT(watch_->Await(sender.pidfd(), absl::Now() + kLongWait),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("STOPPING=1")));
}

TEST_F(SdNotifyWatchTest, MainPidIsWatchedInsteadOfTheWrapperThatExited) {
  ASSERT_OK_AND_ASSIGN(ChildProcess wrapper, StartChild({kPython, kSender, "mainpid"}, {}, Env()));

  // The wrapper exits before READY=1; its daemon (MAINPID=) sends it after.
  ASSERT_OK_AND_ASSIGN(WatchOutcome outcome, watch_->Await(wrapper.pidfd(), absl::Now() + kLongWait));
  EXPECT_EQ(outcome.kind, WatchOutcome::kReady);
  EXPECT_THAT(outcome.main_pid, AllOf(Ne(0), Ne(wrapper.pid())));
  EXPECT_THAT(watch_->Labels(), Contains(Pair("mainpid", absl::StrCat(outcome.main_pid))));
  ASSERT_OK_AND_ASSIGN(std::optional<ExitInfo> exit, wrapper.WaitUntil(absl::Now() + kLongWait));
  ASSERT_TRUE(exit.has_value());  // It had exited, and was reaped now.
  EXPECT_TRUE(exit->success()) << exit->ToString();
  // The daemon was in the wrapper's group: WaitUntil killed it. If this
  // process adopted it (a subreaper), it is reaped here.
  if (outcome.main_pid > 0) waitpid(outcome.main_pid, nullptr, 0);
}

TEST_F(SdNotifyWatchTest, DescriptorsSentAlongAreClosedSoABarrierReturns) {
  // sd_notify_barrier(): READY=1 comes only once the watch closed the pipe it was sent.
  ASSERT_OK_AND_ASSIGN(ChildProcess sender, StartChild({kPython, kSender, "barrier"}, {}, Env()));
  EXPECT_THAT(watch_->Await(sender.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
}

// After READY=1 the watch keeps reading (a thread of its own, woken by the
// socket): a server that keeps notifying is never blocked by a full queue.
TEST_F(SdNotifyWatchTest, NotificationsAfterReadyAreReadAsTheyCome) {
  ASSERT_OK_AND_ASSIGN(ChildProcess sender, StartChild({kPython, kSender, "chatty"}, {}, Env()));
  ASSERT_THAT(watch_->Await(sender.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
  // All 50 sent and exited: nobody but the watch's own thread read meanwhile.
  ASSERT_OK_AND_ASSIGN(std::optional<ExitInfo> exit, sender.WaitUntil(absl::Now() + kLongWait));
  ASSERT_TRUE(exit.has_value()) << "the sender is still blocked in send(2) after READY=1";
  EXPECT_TRUE(exit->success()) << exit->ToString();
  EXPECT_THAT(watch_->Labels(), Contains(Pair("status", "Step 50")));
}

TEST(SdNotifyWatchCreateTest, SocketPathTooLongIsInvalidArgument) {
  EXPECT_THAT(SdNotifyWatch::Create(std::string(120, 'd')), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fixture
