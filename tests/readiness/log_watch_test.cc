// ReadyByLog against real shell children writing to unlinked log files, as
// fixture/child_logs.h gives them: a line that comes later (also in two
// writes), a child that dies first, one that never prints the line.
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/clock.h"
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
using ::fixture::readiness_test::MakePipe;
using ::fixture::readiness_test::Pipe;
using ::fixture::readiness_test::StartChild;
using ::fixture::readiness_test::UnlinkedLogFile;
using ::fixture::testing::IsOkAndHolds;
using ::fixture::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

class LogWatchTest : public readiness_test::WatchTest {
 protected:
  void SetUp() override {
    WatchTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_OK_AND_ASSIGN(stdout_, UnlinkedLogFile(dir_->path(), "server.stdout.log"));
    ASSERT_OK_AND_ASSIGN(stderr_, UnlinkedLogFile(dir_->path(), "server.stderr.log"));
    ASSERT_OK_AND_ASSIGN(go_, MakePipe());
  }

  absl::StatusOr<std::unique_ptr<ReadyWatch>> Watch(std::string regex) {
    return ReadyWatch::Create(
        ReadyByLog{std::move(regex)},
        WatchContext{.dir = dir_->path(), .stdout_fd = stdout_.get(), .stderr_fd = stderr_.get()});
  }

  // `script` by /bin/sh, its stdin the go pipe, its output in the log files.
  absl::StatusOr<ChildProcess> Shell(const std::string& script) {
    return StartChild({"/bin/sh", "-c", script}, {.in = go_.read.get(), .out = stdout_.get(), .err = stderr_.get()});
  }

  // Lets a child that waits in `read` go on.
  void Go() { ASSERT_EQ(write(go_.write.get(), "go\n", 3), 3); }

  UniqueFd stdout_;
  UniqueFd stderr_;
  Pipe go_;
};

TEST_F(LogWatchTest, ALineThatComesLaterOnStderrIsReady) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch("listening on port [0-9]+"));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, Shell("echo starting; echo 'loading 3 files' >&2; read x; "
                                                 "echo 'listening on port 8080' >&2; exec sleep 300"));

  // Not before the line (the child waits for it in `read`).
  ASSERT_OK_AND_ASSIGN(WatchOutcome early, watch->Await(child.pidfd(), absl::Now() + kShortWait));
  ASSERT_EQ(early.kind, WatchOutcome::kTimedOut);
  EXPECT_THAT(watch->LastSeen(), HasSubstr("no line matched /listening on port [0-9]+/"));

  Go();
  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
  EXPECT_THAT(watch->Labels(),
              AllOf(Contains(Pair("readiness", "log")), Contains(Pair("ready_line", "listening on port 8080"))));
}

TEST_F(LogWatchTest, NeverReadySaysTheRegexAndTheLastLinesOfBoth) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch("^Ready"));
  // Says "written" once both lines are in the files.
  ASSERT_OK_AND_ASSIGN(Pipe said, MakePipe());
  ASSERT_OK_AND_ASSIGN(ChildProcess child,
                       StartChild({"/bin/sh", "-c",
                                   "echo 'Loading the model'; echo 'warning: slow disk' >&2; printf 'Rea' >&2;"
                                   "echo written >&3; exec sleep 300"},
                                  {.out = stdout_.get(), .err = stderr_.get(), .ready = said.write.get()}));
  ASSERT_THAT(PollReadable(said.read.get(), absl::Now() + kLongWait, "the child's word"), IsOkAndHolds(true));

  ASSERT_OK_AND_ASSIGN(WatchOutcome outcome, watch->Await(child.pidfd(), absl::Now() + kShortWait));
  EXPECT_EQ(outcome.kind, WatchOutcome::kTimedOut);
  EXPECT_THAT(watch->LastSeen(),
              AllOf(HasSubstr("no line matched /^Ready/"), HasSubstr("stdout: Loading the model"),
                    HasSubstr("stderr: warning: slow disk"), HasSubstr("stderr (no newline yet): Rea")));
  EXPECT_THAT(watch->Labels(), Not(Contains(Pair("ready_line", ::testing::_))));
}

TEST_F(LogWatchTest, ALineWrittenInTwoPiecesMatchesWhenItEnds) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch("^Ready to accept connections$"));
  ASSERT_OK_AND_ASSIGN(ChildProcess child,
                       Shell("printf 'Ready to acc'; read x; printf 'ept connections\\r\\n'; exec sleep 300"));
  ASSERT_OK_AND_ASSIGN(WatchOutcome early, watch->Await(child.pidfd(), absl::Now() + kShortWait));
  ASSERT_EQ(early.kind, WatchOutcome::kTimedOut);

  Go();
  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
}

TEST_F(LogWatchTest, AVeryLongLineIsMatchedInPieces) {
  // 100 000 characters, then the words: the regex sees pieces of LogWatch::kMaxLine.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch("ready$"));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, Shell("head -c 100000 /dev/zero | tr '\\0' a; echo ready; exec sleep 300"));
  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
}

TEST_F(LogWatchTest, AChildThatDiesFirstIsSeenExitedAtOnceWithWhatItSaid) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch("ready"));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, Shell("echo 'fatal: no config' >&2; exit 2"));

  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kExited));
  EXPECT_THAT(watch->LastSeen(), HasSubstr("stderr: fatal: no config"));
}

TEST_F(LogWatchTest, WhatTheFilesHeldBeforeTheWatchIsNotRead) {
  ASSERT_EQ(write(stdout_.get(), "ready from an earlier run\n", 26), 26);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch("ready"));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, Shell("exec sleep 300"));
  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kShortWait), IsOutcome(WatchOutcome::kTimedOut));
  EXPECT_THAT(watch->LastSeen(), HasSubstr("nothing written to stdout or stderr"));
}

TEST_F(LogWatchTest, ABadRegexIsInvalidArgumentNamingTheField) {
  EXPECT_THAT(Watch("listening (on"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ready.regex")));
}

TEST_F(LogWatchTest, NoLogFileIsInvalidArgument) {
  EXPECT_THAT(ReadyWatch::Create(ReadyByLog{"x"}, WatchContext{.dir = dir_->path()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("regular file")));
}

}  // namespace
}  // namespace fixture
