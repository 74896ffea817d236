// ChildProcess::AwaitStopped on a real process (/bin/sleep): it returns once
// SIGSTOP has stopped the process (the kernel's state T), at once for a
// process that has exited, and with DeadlineExceeded, naming the pid and
// its threads' states, for one that does not stop by the deadline.
#include <signal.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/child_process.h"
#include "fixture/launch/proc_stat.h"
#include "fixture/launch_spec.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixture {
namespace {

using ::fixture::testing::IsOk;
using ::fixture::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

absl::StatusOr<ChildProcess> Sleeper() {
  LaunchSpec spec;
  spec.program = Binary{"/bin/sleep"};
  spec.args = {"60"};
  return ChildProcess::Exec(spec);
}

std::optional<char> StateOf(pid_t pid) {
  std::optional<ProcStat> stat = ReadProcStat(pid);
  return stat ? std::optional<char>(stat->state) : std::nullopt;
}

TEST(AwaitStoppedTest, ReturnsOnceSigstopHasStoppedTheProcess) {
  ASSERT_OK_AND_ASSIGN(ChildProcess sleeper, Sleeper());
  ASSERT_OK(sleeper.Signal(SIGSTOP));
  EXPECT_THAT(sleeper.AwaitStopped(absl::Now() + absl::Seconds(10)), IsOk());
  EXPECT_THAT(StateOf(sleeper.pid()), Optional(Eq('T')));
  EXPECT_EQ(ThreadStates(sleeper.pid()), "T");

  // SIGCONT wakes it as it is sent.
  ASSERT_OK(sleeper.Signal(SIGCONT));
  EXPECT_THAT(ThreadStates(sleeper.pid()), Not(HasSubstr("T")));
}

TEST(AwaitStoppedTest, AProcessThatDoesNotStopRunsIntoTheDeadlineAndIsNamed) {
  ASSERT_OK_AND_ASSIGN(ChildProcess sleeper, Sleeper());
  // No SIGSTOP: it runs (R) or sleeps in nanosleep(2) (S), never T.
  EXPECT_THAT(sleeper.AwaitStopped(absl::Now() + absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr(absl::StrCat("pid ", sleeper.pid(), " has not stopped")),
                             ContainsRegex("states \"[RSD]\""))));
}

TEST(AwaitStoppedTest, ReturnsAtOnceForAProcessThatHasExited) {
  ASSERT_OK_AND_ASSIGN(ChildProcess sleeper, Sleeper());
  ASSERT_OK(sleeper.Signal(SIGKILL));
  EXPECT_THAT(sleeper.AwaitStopped(absl::Now() + absl::Seconds(10)), IsOk());
  ASSERT_OK_AND_ASSIGN(std::optional<ExitInfo> exit, sleeper.WaitUntil(absl::Now() + absl::Seconds(10)));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGKILL);
  // Reaped: nothing to wait for.
  EXPECT_THAT(sleeper.AwaitStopped(absl::InfiniteFuture()), IsOk());
}

}  // namespace
}  // namespace fixture
