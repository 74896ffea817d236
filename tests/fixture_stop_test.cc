// How Stop() ends a server that does not cooperate: a control channel that
// never answers (SIGINT takes over), a server that also ignores SIGINT
// (SIGKILL), and a server that crashed while serving (nothing left to stop,
// but the crash is reported).
#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Property;

// The step expected to fail gets a short timeout (it is waited out in full);
// the step expected to end the process a long one (the wait ends with it).
FixtureOptions StallingKvOptions(std::vector<std::string> args, absl::Duration sigint_timeout = absl::Seconds(10)) {
  FixtureOptions options = KvOptions("stubborn", std::move(args));
  options.stop.steps = {
      StopStep::Control(absl::Milliseconds(300)),
      StopStep::Signal(SIGINT, sigint_timeout),
      StopStep::Signal(SIGKILL, absl::Seconds(10)),
  };
  return options;
}

TEST(FixtureStopTest, StopFallsBackToSigintWhenTheControlChannelDoesNotAnswer) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(StallingKvOptions({"--test_stall_control"})));
  const pid_t pid = kv.pid();
  // The service under test works; only the control service is stalled.
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "k", "v"));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedBySignal(SIGINT));
  EXPECT_EQ(stopped.how(), "SIGINT");
  EXPECT_EQ(stopped.exit.pid, pid);
  // SIGINT is a graceful stop: exit status 0.
  EXPECT_THAT(stopped, StoppedCleanly());
  EXPECT_THAT(stopped.detail,
              AllOf(HasSubstr("control Shutdown failed: DEADLINE_EXCEEDED"), HasSubstr(kv.control_address())));
  // It was the server's own SIGINT handling that stopped it.
  EXPECT_THAT(kv.StderrTail(), HasSubstr("SIGINT received: stopping"));
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_FALSE(PathExists(SocketDirOf(kv.control_address())));
}

TEST(FixtureStopTest, StopFallsBackToSigkillWhenSigintIsIgnoredToo) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(StallingKvOptions({"--test_stall_control", "--test_ignore_sigint"},
                                                                    /*sigint_timeout=*/absl::Milliseconds(300))));
  const pid_t pid = kv.pid();

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedBySignal(SIGKILL));
  EXPECT_EQ(stopped.how(), "SIGKILL");
  EXPECT_EQ(stopped.exit.pid, pid);
  EXPECT_TRUE(stopped.exit.signaled) << stopped.ToString();
  EXPECT_EQ(stopped.exit.signal, SIGKILL) << stopped.ToString();
  EXPECT_EQ(stopped.exit.ToString(), "killed by signal 9 (SIGKILL)");
  EXPECT_THAT(stopped, Not(StoppedCleanly()));
  EXPECT_THAT(stopped.detail, AllOf(HasSubstr("control Shutdown failed: DEADLINE_EXCEEDED"),
                                    HasSubstr("no exit within 300ms of SIGINT")));
  EXPECT_THAT(stopped.ToString(), AllOf(HasSubstr("stopped by SIGKILL"), HasSubstr("last lines of stderr")));
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
  // The server never got to remove its socket; the parent did.
  EXPECT_FALSE(PathExists(SocketDirOf(kv.control_address())));
}

TEST(FixtureStopTest, CrashWhileServingIsReportedByStatusAndStop) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("crashy", {"--test_crash_on_key=boom"})));
  const pid_t pid = kv.pid();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "fine", "1"));

  // The server aborts inside the handler: the call fails with the connection.
  EXPECT_THAT(KvPut(channel, "boom", "!"), StatusIs(absl::StatusCode::kUnavailable));

  // The client sees the connection drop while the kernel is still tearing the
  // process down; wait for the exit itself before asking the fixture.
  ASSERT_TRUE(ExitsWithin(pid, absl::Seconds(10))) << "after it crashed";

  absl::StatusOr<v1::Status> status = kv.status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr(absl::StrCat("fixture \"crashy\": server pid ", pid)),
                                     HasSubstr("killed by signal 6 (SIGABRT"), HasSubstr("while serving"),
                                     HasSubstr("stage: serving"), HasSubstr("crashing on Put(\"boom\")"))));
  EXPECT_THAT(status, CarriesFailure(AllOf(FailureAt(v1::Failure::SERVING, v1::Failure::EXITED),
                                           ProcessKilledBy(SIGABRT), Property(&v1::Failure::pid, pid),
                                           Property(&v1::Failure::control_address, kv.control_address()))));
  EXPECT_THAT(kv.CheckRunning(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("while serving")));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kAlreadyExited));
  EXPECT_EQ(stopped.exit.pid, pid);
  EXPECT_TRUE(stopped.exit.signaled) << stopped.ToString();
  EXPECT_EQ(stopped.exit.signal, SIGABRT) << stopped.ToString();
  EXPECT_THAT(stopped, Not(StoppedCleanly()));
  EXPECT_THAT(stopped.stderr_tail, HasSubstr("kv_server: crashing on Put(\"boom\") as --test_crash_on_key asks"));
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_FALSE(PathExists(SocketDirOf(kv.control_address())));
}

}  // namespace
}  // namespace fixture::testing
