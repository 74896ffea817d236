// The polled strategies against real processes: ReadyByTcp and ReadyByHttp
// against `python3 -m http.server` on a reserved port (bound, not
// listening, as fixture/ports.h holds it), ReadyByExec with shell commands.
// Each: ready, the server dead first (kExited), never ready (kTimedOut, and
// LastSeen says what the last try saw).
#include "fixture/poll_watch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/endpoint_probe.h"
#include "fixture/exec_probe.h"
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
using ::fixture::readiness_test::ReservedPort;
using ::fixture::readiness_test::ReservePort;
using ::fixture::readiness_test::StartChild;
using ::fixture::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kPython[] = "/usr/bin/python3";

class PollWatchTest : public readiness_test::WatchTest {
 protected:
  void SetUp() override {
    WatchTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_OK_AND_ASSIGN(port_, ReservePort());
  }

  absl::StatusOr<std::unique_ptr<ReadyWatch>> Watch(const Readiness& ready) {
    WatchContext context{.dir = dir_->path()};
    context.resolve = [this](absl::string_view name) -> absl::StatusOr<std::string> {
      if (name == "web") return port_.address();
      if (name.find(':') != absl::string_view::npos) return std::string(name);
      return absl::NotFoundError(absl::StrCat("no endpoint \"", name, "\"; there is: web"));
    };
    context.env = {{"FLAG", dir_->File("flag")}};
    return ReadyWatch::Create(ready, std::move(context));
  }

  // `python3 -m http.server` on the reserved port, serving the directory.
  absl::StatusOr<ChildProcess> HttpServer() {
    return StartChild(
        {kPython, "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir_->path(), absl::StrCat(port_.port)});
  }

  ReservedPort port_;
};

TEST_F(PollWatchTest, TcpIsReadyWhenTheServerListens) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByTcp{"web"}));
  ASSERT_OK_AND_ASSIGN(ChildProcess server, HttpServer());
  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
  EXPECT_THAT(watch->Labels(), Contains(Pair("readiness", "tcp")));
}

TEST_F(PollWatchTest, TcpNeverReadySaysTheLastConnectError) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByTcp{"web"}));
  ASSERT_OK_AND_ASSIGN(ChildProcess sleeper, StartChild({"/bin/sleep", "300"}));
  EXPECT_THAT(watch->Await(sleeper.pidfd(), absl::Now() + kShortWait), IsOutcome(WatchOutcome::kTimedOut));
  EXPECT_THAT(
      watch->LastSeen(),
      AllOf(HasSubstr(absl::StrCat("last connect(", port_.address(), "): Connection refused")), HasSubstr("polled")));
}

TEST_F(PollWatchTest, TcpServerThatDiesFirstIsSeenExitedAtOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByTcp{"web"}));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, StartChild({"/bin/sh", "-c", "exit 3"}));
  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kExited));
}

TEST_F(PollWatchTest, TcpOnAUnixSocket) {
  const std::string path = dir_->File("s.sock");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByTcp{absl::StrCat("unix:", path)}));
  ASSERT_OK_AND_ASSIGN(
      ChildProcess server,
      StartChild({kPython, "-c",
                  "import socket, sys, signal; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); "
                  "signal.pause()",
                  path}));
  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
}

TEST_F(PollWatchTest, UnknownEndpointNameIsTheResolversError) {
  EXPECT_THAT(Watch(ReadyByTcp{"grpc"}), StatusIs(absl::StatusCode::kNotFound, HasSubstr("there is: web")));
  EXPECT_THAT(Watch(ReadyByTcp{"127.0.0.1:notaport"}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PollWatchTest, HttpIsReadyOn2xx) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByHttp{"web", "/"}));
  ASSERT_OK_AND_ASSIGN(ChildProcess server, HttpServer());
  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
  EXPECT_THAT(watch->LastSeen(), HasSubstr(" 200 OK"));
  EXPECT_THAT(watch->Labels(), Contains(Pair("readiness", "http")));
}

TEST_F(PollWatchTest, HttpNeverReadySaysTheLastStatus) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByHttp{"web", "/healthz"}));
  ASSERT_OK_AND_ASSIGN(ChildProcess server, HttpServer());
  // First until it answers at all (404: not ready, for good).
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> tcp, Watch(ReadyByTcp{"web"}));
  ASSERT_THAT(tcp->Await(server.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));

  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kShortWait), IsOutcome(WatchOutcome::kTimedOut));
  EXPECT_THAT(watch->LastSeen(),
              HasSubstr(absl::StrCat("last GET http://", port_.address(), "/healthz: HTTP/1.0 404")));
}

TEST_F(PollWatchTest, HttpServerThatDiesFirstIsSeenExitedAtOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByHttp{"web", "/"}));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, StartChild({"/bin/sh", "-c", "exit 3"}));
  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kExited));
}

TEST_F(PollWatchTest, HttpBadPathIsInvalidArgument) {
  EXPECT_THAT(Watch(ReadyByHttp{"web", "healthz"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ready.path")));
}

TEST_F(PollWatchTest, ExecIsReadyWhenTheCommandExitsZeroWithTheGivenEnvironment) {
  // $FLAG (from the watch's env) exists once the server has made it.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByExec{{"sh", "-c", "test -e \"$FLAG\""}}));
  ASSERT_OK_AND_ASSIGN(Pipe go, MakePipe());
  ASSERT_OK_AND_ASSIGN(ChildProcess server, StartChild({"/bin/sh", "-c", "read x; touch \"$FLAG\"; exec sleep 300"},
                                                       {.in = go.read.get()}, {{"FLAG", dir_->File("flag")}}));
  ASSERT_OK_AND_ASSIGN(WatchOutcome early, watch->Await(server.pidfd(), absl::Now() + kShortWait));
  ASSERT_EQ(early.kind, WatchOutcome::kTimedOut);
  EXPECT_THAT(watch->LastSeen(), HasSubstr("last run of `sh -c test -e \"$FLAG\"`: exited with status 1"));

  ASSERT_EQ(write(go.write.get(), "go\n", 3), 3);
  EXPECT_THAT(watch->Await(server.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kReady));
}

TEST_F(PollWatchTest, ExecNeverReadySaysTheExitStatusAndOutput) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch,
                       Watch(ReadyByExec{{"sh", "-c", "echo 'Could not connect: Connection refused' >&2; exit 7"}}));
  ASSERT_OK_AND_ASSIGN(ChildProcess sleeper, StartChild({"/bin/sleep", "300"}));
  EXPECT_THAT(watch->Await(sleeper.pidfd(), absl::Now() + kShortWait), IsOutcome(WatchOutcome::kTimedOut));
  EXPECT_THAT(watch->LastSeen(),
              AllOf(HasSubstr("exited with status 7"), HasSubstr("output: Could not connect: Connection refused")));
}

TEST_F(PollWatchTest, ExecStillRunningAtTheDeadlineIsKilled) {
  // The command leaves its pid in a file: it must be gone (killed and reaped) when Await returns.
  const std::string pid_file = dir_->File("check.pid");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch,
                       Watch(ReadyByExec{{"sh", "-c", absl::StrCat("echo $$ > ", pid_file, "; exec sleep 300")}}));
  ASSERT_OK_AND_ASSIGN(ChildProcess sleeper, StartChild({"/bin/sleep", "300"}));
  EXPECT_THAT(watch->Await(sleeper.pidfd(), absl::Now() + kShortWait), IsOutcome(WatchOutcome::kTimedOut));
  EXPECT_THAT(watch->LastSeen(), HasSubstr("still running at the deadline (killed)"));
  std::string text;
  if (FILE* f = fopen(pid_file.c_str(), "r")) {  // Not there: killed before it got to write it.
    char line[32] = {};
    if (fgets(line, sizeof line, f) != nullptr) text = line;
    fclose(f);
  }
  int pid = 0;
  if (absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid)) {
    EXPECT_EQ(kill(pid, 0), -1) << "the check " << pid << " outlived the deadline";
    EXPECT_EQ(errno, ESRCH);
  }
}

TEST_F(PollWatchTest, ExecWhileTheServerDiesIsSeenExitedAtOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadyWatch> watch, Watch(ReadyByExec{{"sleep", "300"}}));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, StartChild({"/bin/sh", "-c", "exit 3"}));
  EXPECT_THAT(watch->Await(child.pidfd(), absl::Now() + kLongWait), IsOutcome(WatchOutcome::kExited));
}

TEST_F(PollWatchTest, ExecArgvIsChecked) {
  EXPECT_THAT(Watch(ReadyByExec{}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ready.argv")));
  EXPECT_THAT(Watch(ReadyByExec{{"no-such-command-here"}}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found in PATH=")));
}

}  // namespace
}  // namespace fixture
