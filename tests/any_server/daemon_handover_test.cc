// A wrapper that hands over to its daemon by sd_notify's MAINPID= (the
// launched process exits 0 before the daemon says READY=1, as a daemonizing
// start script does): from then on the daemon is the server, for pid(),
// CheckRunning(), exit_fd(), the control socket's status and the stop; the
// wrapper is reaped at the stop and nothing of either is left. Once with the
// daemon in the wrapper's process group, once leading its own (setsid, as
// daemon(3) does). The daemon is not a child of this test: its exit status is
// not known here, and the fixture says so rather than guess. Pause, Resume
// and Kill reach the daemon, too, and a Restart ends it and hands over anew.
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/proc_stat.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixture {
namespace {

using ::fixture::testing::IsOk;
using ::fixture::testing::IsOkAndHolds;
using ::fixture::testing::IsServing;
using ::fixture::testing::StatusIs;
using ::fixture::testing::StoppedBy;
using ::fixture::testing::StoppedBySignal;
using ::fixture::testing::StoppedCleanly;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::Property;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kSender[] = "tests/readiness/notify_sender.py";

struct Handover {
  std::string test_name;
  std::vector<std::string> sender_args;
};

class DaemonHandoverTest : public ::testing::TestWithParam<Handover> {
 protected:
  static FixtureOptions Options() {
    FixtureOptions options;
    options.name = "daemon";
    options.program = Binary{kPython};
    options.args = {kSender};
    options.args.insert(options.args.end(), GetParam().sender_args.begin(), GetParam().sender_args.end());
    options.ready = ReadyBySdNotify{};
    return options;
  }

  // Whether `pidfd`'s process has ended, waiting until `deadline`.
  static bool EndedBy(int pidfd, absl::Time deadline) {
    absl::StatusOr<bool> ended = PollReadable(pidfd, deadline, "daemon's pidfd");
    return ended.ok() && *ended;
  }

  // No child of this test is left, reaped or not.
  static void ExpectNoChildLeft() {
    int status = 0;
    EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
  }
};

TEST_P(DaemonHandoverTest, TheDaemonIsTheServerAndTheStopEndsItAndReapsTheWrapper) {
  ASSERT_OK_AND_ASSIGN(Fixture daemon, Fixture::Start(Options()));
  // The wrapper has exited 0 by now (the daemon says READY=1 only then):
  // what the fixture watches is the daemon.
  EXPECT_THAT(daemon.CheckRunning(), IsOk());
  EXPECT_THAT(daemon.status(), IsServing());
  EXPECT_THAT(
      daemon.status(),
      IsOkAndHolds(AllOf(Property(&v1::Status::pid, daemon.pid()),
                         Property(&v1::Status::labels, Contains(Pair("mainpid", absl::StrCat(daemon.pid())))))));
  UniqueFd daemon_pidfd = OpenPidfd(daemon.pid());
  ASSERT_TRUE(daemon_pidfd) << "pidfd_open(" << daemon.pid() << "): " << strerror(errno);
  EXPECT_FALSE(EndedBy(daemon.exit_fd(), absl::Now()));

  absl::StatusOr<StopResult> stopped = daemon.Stop();
  EXPECT_THAT(stopped, AllOf(StoppedCleanly(), StoppedBySignal(SIGTERM)));
  ASSERT_OK(stopped.status());
  EXPECT_EQ(stopped->exit.pid, daemon.pid());
  EXPECT_FALSE(stopped->exit.status_known);
  EXPECT_THAT(stopped->ToString(), HasSubstr("exit status is not known"));
  EXPECT_TRUE(EndedBy(daemon_pidfd.get(), absl::Now()));
  ExpectNoChildLeft();
}

TEST_P(DaemonHandoverTest, ADaemonThatDiesWhileServingIsReportedAsEnded) {
  ASSERT_OK_AND_ASSIGN(Fixture daemon, Fixture::Start(Options()));
  ASSERT_EQ(kill(daemon.pid(), SIGKILL), 0);
  ASSERT_TRUE(EndedBy(daemon.exit_fd(), absl::Now() + absl::Seconds(10)));

  EXPECT_THAT(daemon.CheckRunning(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("while serving"), HasSubstr("exit status is not known"))));
  absl::StatusOr<StopResult> stopped = daemon.Stop();
  EXPECT_THAT(stopped, AllOf(StoppedBy(StopStage::kAlreadyExited), Not(StoppedCleanly())));
  ExpectNoChildLeft();
}

TEST_P(DaemonHandoverTest, TheDaemonIsWhatPauseResumeAndKillReach) {
  ASSERT_OK_AND_ASSIGN(Fixture daemon, Fixture::Start(Options()));
  const pid_t pid = daemon.pid();

  // Not a child of this test: Pause() sees it stop all the same.
  ASSERT_OK(daemon.Pause());
  EXPECT_THAT(ThreadStates(pid), Not(HasSubstr("S")));
  EXPECT_THAT(ThreadStates(pid), HasSubstr("T"));
  ASSERT_OK(daemon.Resume());
  EXPECT_THAT(ThreadStates(pid), Not(HasSubstr("T")));
  EXPECT_THAT(daemon.CheckRunning(), IsOk());

  ASSERT_OK(daemon.Kill(SIGKILL));
  ASSERT_OK_AND_ASSIGN(ExitInfo exit, daemon.WaitForExit(absl::Seconds(10)));
  EXPECT_EQ(exit.pid, pid);
  EXPECT_FALSE(exit.status_known);
  EXPECT_THAT(daemon.Stop(), StoppedBy(StopStage::kAlreadyExited));
  ExpectNoChildLeft();
}

TEST_P(DaemonHandoverTest, ARestartEndsTheDaemonAndHandsOverAgain) {
  ASSERT_OK_AND_ASSIGN(Fixture daemon, Fixture::Start(Options()));
  const pid_t old_pid = daemon.pid();
  UniqueFd old_pidfd = OpenPidfd(old_pid);
  ASSERT_TRUE(old_pidfd) << "pidfd_open(" << old_pid << "): " << strerror(errno);

  ASSERT_OK_AND_ASSIGN(StopResult old, daemon.Restart());

  EXPECT_THAT(old, AllOf(StoppedCleanly(), StoppedBySignal(SIGTERM)));
  EXPECT_EQ(old.exit.pid, old_pid);
  EXPECT_TRUE(EndedBy(old_pidfd.get(), absl::Now()));
  EXPECT_NE(daemon.pid(), old_pid);
  EXPECT_THAT(
      daemon.status(),
      IsOkAndHolds(AllOf(Property(&v1::Status::pid, daemon.pid()),
                         Property(&v1::Status::labels, Contains(Pair("mainpid", absl::StrCat(daemon.pid())))))));
  EXPECT_THAT(daemon.Stop(), AllOf(StoppedCleanly(), StoppedBySignal(SIGTERM)));
  ExpectNoChildLeft();
}

INSTANTIATE_TEST_SUITE_P(EachGroup, DaemonHandoverTest,
                         ::testing::Values(Handover{"InTheWrappersGroup", {"mainpid"}},
                                           Handover{"LeadingItsOwnSession", {"mainpid", "setsid"}}),
                         [](const ::testing::TestParamInfo<Handover>& info) { return info.param.test_name; });

}  // namespace
}  // namespace fixture
