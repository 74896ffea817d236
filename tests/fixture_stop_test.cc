// How Stop() ends a server that does not cooperate: a control channel that
// never answers (SIGINT takes over), a server that also ignores SIGINT
// (SIGKILL), and a server that crashed while serving (nothing left to stop,
// but the crash is reported).
#include <signal.h>
#include <sys/types.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The stage expected to fail gets a short timeout (it is waited out in full);
// the stage expected to end the process a long one (the wait ends with it).
FixtureOptions StallingKvOptions(std::vector<std::string> args) {
  FixtureOptions options = KvOptions("stubborn", std::move(args));
  options.stop.control_timeout = absl::Milliseconds(300);
  options.stop.sigint_timeout = absl::Seconds(10);
  options.stop.sigkill_timeout = absl::Seconds(10);
  return options;
}

TEST(FixtureStopTest, StopFallsBackToSigintWhenTheControlChannelDoesNotAnswer) {
  absl::StatusOr<Fixture> kv = Fixture::Start(StallingKvOptions({"--test_stall_control"}));
  ASSERT_TRUE(kv.ok()) << kv.status();
  const pid_t pid = kv->pid();
  // The service under test works; only the control service is stalled.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = kv->channel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  ASSERT_TRUE(KvPut(*channel, "k", "v").ok());

  absl::StatusOr<StopResult> stopped = kv->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  printf("stop: %s\n", stopped->ToString().c_str());
  EXPECT_EQ(stopped->stage, StopStage::kSigint) << stopped->ToString();
  EXPECT_EQ(stopped->exit.pid, pid);
  EXPECT_FALSE(stopped->exit.signaled) << stopped->ToString();
  EXPECT_EQ(stopped->exit.code, 0) << stopped->ToString();  // SIGINT is a graceful stop.
  EXPECT_TRUE(stopped->clean()) << stopped->ToString();
  EXPECT_THAT(stopped->detail,
              AllOf(HasSubstr("control Shutdown failed: DEADLINE_EXCEEDED"), HasSubstr(kv->control_address())));
  // It was the server's own SIGINT handling that stopped it.
  EXPECT_THAT(kv->StderrTail(), HasSubstr("SIGINT received: stopping"));
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_FALSE(PathExists(DirName(UnixPath(kv->control_address()))));
}

TEST(FixtureStopTest, StopFallsBackToSigkillWhenSigintIsIgnoredToo) {
  FixtureOptions options = StallingKvOptions({"--test_stall_control", "--test_ignore_sigint"});
  options.stop.sigint_timeout = absl::Milliseconds(300);
  absl::StatusOr<Fixture> kv = Fixture::Start(options);
  ASSERT_TRUE(kv.ok()) << kv.status();
  const pid_t pid = kv->pid();

  absl::StatusOr<StopResult> stopped = kv->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  printf("stop: %s\n", stopped->ToString().c_str());
  EXPECT_EQ(stopped->stage, StopStage::kSigkill) << stopped->ToString();
  EXPECT_EQ(stopped->exit.pid, pid);
  EXPECT_TRUE(stopped->exit.signaled) << stopped->ToString();
  EXPECT_EQ(stopped->exit.signal, SIGKILL) << stopped->ToString();
  EXPECT_EQ(stopped->exit.ToString(), "killed by signal 9 (SIGKILL)");
  EXPECT_FALSE(stopped->clean());
  EXPECT_THAT(stopped->detail, AllOf(HasSubstr("control Shutdown failed: DEADLINE_EXCEEDED"),
                                     HasSubstr("no exit within 300ms of SIGINT")));
  EXPECT_THAT(stopped->ToString(), AllOf(HasSubstr("stopped by SIGKILL"), HasSubstr("last lines of stderr")));
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
  // The server never got to remove its socket; the parent did.
  EXPECT_FALSE(PathExists(DirName(UnixPath(kv->control_address()))));
}

TEST(FixtureStopTest, CrashWhileServingIsReportedByStatusAndStop) {
  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions("crashy", {"--test_crash_on_key=boom"}));
  ASSERT_TRUE(kv.ok()) << kv.status();
  const pid_t pid = kv->pid();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = kv->channel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  ASSERT_TRUE(KvPut(*channel, "fine", "1").ok());

  // The server aborts inside the handler: the call fails with the connection.
  absl::Status put = KvPut(*channel, "boom", "!");
  EXPECT_EQ(put.code(), absl::StatusCode::kUnavailable) << put;

  // The client sees the connection drop while the kernel is still tearing the
  // process down; wait for the exit itself before asking the fixture.
  absl::StatusOr<bool> exited = AwaitExit(pid, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(exited.ok()) << exited.status();
  ASSERT_TRUE(*exited) << "pid " << pid << " still runs 10s after it crashed";

  absl::StatusOr<v1::Status> status = kv->status();
  EXPECT_THAT(status.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        AllOf(HasSubstr(absl::StrCat("fixture \"crashy\": server pid ", pid)),
                                              HasSubstr("killed by signal 6 (SIGABRT"), HasSubstr("while serving"),
                                              HasSubstr("stage: serving"), HasSubstr("crashing on Put(\"boom\")"))));
  EXPECT_THAT(kv->CheckRunning(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("while serving")));

  absl::StatusOr<StopResult> stopped = kv->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->stage, StopStage::kAlreadyExited) << stopped->ToString();
  EXPECT_EQ(stopped->exit.pid, pid);
  EXPECT_TRUE(stopped->exit.signaled) << stopped->ToString();
  EXPECT_EQ(stopped->exit.signal, SIGABRT) << stopped->ToString();
  EXPECT_FALSE(stopped->clean());
  EXPECT_THAT(stopped->stderr_tail, HasSubstr("kv_server: crashing on Put(\"boom\") as --test_crash_on_key asks"));
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_FALSE(PathExists(DirName(UnixPath(kv->control_address()))));
}

}  // namespace
}  // namespace fixture::testing
