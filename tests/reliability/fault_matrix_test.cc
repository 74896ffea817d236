// The fault matrix: a server that dies while the test runs, one that never
// becomes ready, one that exits 0 before it is ready, and a test process that
// gets SIGTERM (as Bazel sends on a timeout). Each fault is staged for real, in
// both launch modes where kv_server can stage it (exec: example/kv_server;
// in process: FIXTURE_SERVER(MimicKv), its twin), and each test asserts the
// stage the fault is reported at and its cause (exit status or signal, stderr).
//
// Faults already covered for exec mode elsewhere run here in process only:
// an abort in a handler (tests/fixture_stop_test.cc) and a start that hangs
// (tests/fixture_start_failures_test.cc).
//
// The binary is also its own "test process" for the SIGTERM case: with
// FIXTURE_TEST_ROLE=sigterm_target, main() starts fixtures in both modes,
// prints their pids and waits to be killed.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launch/exit_info.h"
#include "launch/pidfd.h"
#include "launch/socket_path.h"
#include "proto/failure.pb.h"
#include "tests/reliability/mimic_kv.h"
#include "tests/reliability/reliability_util.h"
#include "tests/role_process.h"

namespace fixture::reliability {
namespace {

using ::fixture::testing::ReadLine;
using ::fixture::testing::RoleProcess;
using ::fixture::testing::SpawnRole;
using ::fixture::testing::WaitForRole;

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Property;

constexpr char kSigtermTargetRole[] = "sigterm_target";

// The process is gone and reaped by whoever forked it: not a child (zombie or
// not) of this process or of the fork server.
void ExpectReapedEverywhere(pid_t pid) {
  EXPECT_THAT(ChildrenOf(getpid()), Not(Contains(pid))) << "pid " << pid << " is still our child";
  EXPECT_THAT(ChildrenOf(ForkServerPid()), Not(Contains(pid))) << "pid " << pid << " is still the fork server's";
}

// The line a server prints when asked to stage a fault: kv_server's or its twin's.
std::string ServerSays(Mode mode, absl::string_view what) {
  return absl::StrCat(mode == Mode::kExec ? "kv_server: " : "MimicKv: ", what);
}

// How a failure message names the process, up to the closing parenthesis:
// the binary's resolved path (ending in its workspace path) or the
// registered server.
std::string WhatRuns(Mode mode) {
  return mode == Mode::kExec ? absl::StrCat(kKvServerBinary, ")") : absl::StrCat("(FIXTURE_SERVER(", kMimicKv, "))");
}

class FaultMatrixTest : public ::testing::TestWithParam<Mode> {};

// What the Failure says a process runs: the binary's resolved path (ending
// in its workspace path) or the registered server.
::testing::Matcher<const std::string&> ProgramOf(Mode mode) {
  return mode == Mode::kExec ? ::testing::Matcher<const std::string&>(::testing::EndsWith(kKvServerBinary))
                             : ::testing::Matcher<const std::string&>(absl::StrCat("FIXTURE_SERVER(", kMimicKv, ")"));
}

// After a failed start: the child its Failure names is reaped everywhere and
// the socket directory of its control address removed (the control socket
// may have been up).
void ExpectNothingLeftOf(const absl::Status& error) {
  std::optional<v1::Failure> failure = FailureOf(error);
  ASSERT_TRUE(failure.has_value()) << "no fixture.v1.Failure on: " << error;
  ASSERT_GT(failure->pid(), 0) << failure->ShortDebugString();
  ExpectReapedEverywhere(static_cast<pid_t>(failure->pid()));
  const std::string socket = UnixSocketPath(failure->control_address());
  ASSERT_THAT(socket, HasSubstr("/fixture-")) << failure->ShortDebugString();
  EXPECT_FALSE(PathExists(DirName(socket))) << DirName(socket) << " is left behind";
}

TEST_P(FaultMatrixTest, ServerKilledBySigkillWhileServingIsReportedByStatusAndStopWithTheSignal) {
  const Mode mode = GetParam();
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(mode, "oom")));
  const pid_t pid = kv.pid();
  const std::string socket_dir = SocketDirOf(kv.control_address());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "before", "1"));

  // As the OOM killer would: no warning, nothing on stderr.
  ASSERT_EQ(kill(pid, SIGKILL), 0) << strerror(errno);
  ASSERT_TRUE(ExitsWithin(pid, absl::Seconds(10))) << "after SIGKILL";

  absl::StatusOr<v1::Status> status = kv.status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr(absl::StrCat("fixture \"oom\": server pid ", pid, " (")),
                                     HasSubstr(WhatRuns(mode)), HasSubstr("killed by signal 9 (SIGKILL) while serving"),
                                     HasSubstr("stage: serving"), HasSubstr("last lines:"))));
  EXPECT_THAT(status,
              CarriesFailure(AllOf(FailureAt(v1::Failure::SERVING, v1::Failure::EXITED), ProcessKilledBy(SIGKILL),
                                   Property(&v1::Failure::pid, pid), Property(&v1::Failure::fixture, "oom"),
                                   Property(&v1::Failure::program, ProgramOf(mode)))));
  EXPECT_THAT(KvPut(channel, "after", "2"), StatusIs(absl::StatusCode::kUnavailable));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kAlreadyExited));
  EXPECT_EQ(stopped.exit.pid, pid);
  EXPECT_TRUE(stopped.exit.signaled) << stopped.ToString();
  EXPECT_EQ(stopped.exit.signal, SIGKILL) << stopped.ToString();
  EXPECT_THAT(stopped, Not(StoppedCleanly()));
  EXPECT_NE(stopped.stderr_tail, "") << "a stop that is not clean quotes stderr, even when it is empty";
  EXPECT_THAT(stopped.ToString(), AllOf(HasSubstr("killed by signal 9 (SIGKILL)"), HasSubstr("already exited")));
  ExpectReapedEverywhere(pid);
  EXPECT_FALSE(PathExists(socket_dir)) << socket_dir << " is left behind";
}

TEST_P(FaultMatrixTest, ServerExitingWithStatus0BeforeReadyFailsStartWithFailedPrecondition) {
  const Mode mode = GetParam();
  FixtureOptions options = KvOptions(mode, "quitter", {"--test_exit_before_ready=0"});
  options.ready_timeout = absl::Seconds(60);  // A failure well before this is the child's own.

  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr(absl::StrCat("fixture \"quitter\": server pid ")),
                                 HasSubstr(absl::StrCat(WhatRuns(mode), " exited with status 0 before it was ready")),
                                 HasSubstr("stage: start"),
                                 HasSubstr(ServerSays(mode,
                                                      "exiting with status 0 before ready as "
                                                      "--test_exit_before_ready asks")))));
  EXPECT_THAT(kv, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(0),
                                       Property(&v1::Failure::program, ProgramOf(mode)))));
  ExpectNothingLeftOf(kv.status());
}

INSTANTIATE_TEST_SUITE_P(BothModes, FaultMatrixTest, ::testing::Values(Mode::kExec, Mode::kInProcess),
                         [](const ::testing::TestParamInfo<Mode>& info) { return ModeName(info.param); });

TEST(FaultMatrixInProcessTest, AbortInAHandlerWhileServingIsReportedByStatusAndStopWithItsStderr) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(Mode::kInProcess, "crashy", {"--test_crash_on_key=boom"})));
  const pid_t pid = kv.pid();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "fine", "1"));

  EXPECT_THAT(KvPut(channel, "boom", "!"), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(ExitsWithin(pid, absl::Seconds(10))) << "after it aborted";

  absl::StatusOr<v1::Status> status = kv.status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr(absl::StrCat("server pid ", pid, " (FIXTURE_SERVER(MimicKv))")),
                                     HasSubstr("killed by signal 6 (SIGABRT"), HasSubstr("while serving"),
                                     HasSubstr("stage: serving"),
                                     HasSubstr("MimicKv: crashing on Put(\"boom\") as --test_crash_on_key asks"))));
  EXPECT_THAT(status, CarriesFailure(AllOf(FailureAt(v1::Failure::SERVING, v1::Failure::EXITED),
                                           ProcessKilledBy(SIGABRT), Property(&v1::Failure::pid, pid))));
  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kAlreadyExited));
  EXPECT_TRUE(stopped.exit.signaled) << stopped.ToString();
  EXPECT_EQ(stopped.exit.signal, SIGABRT) << stopped.ToString();
  EXPECT_THAT(stopped.stderr_tail, HasSubstr("MimicKv: crashing on Put(\"boom\")"));
  ExpectReapedEverywhere(pid);
}

TEST(FaultMatrixInProcessTest, ExitWithStatus3WhileServingIsReportedByStatusAndStopWithTheStatus) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(Mode::kInProcess, "quits", {"--test_exit_on_key=bye"})));
  const pid_t pid = kv.pid();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());

  EXPECT_THAT(KvPut(channel, "bye", "!"), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(ExitsWithin(pid, absl::Seconds(10))) << "after it exited";

  const std::string exit_text = absl::StrCat("exited with status ", kMimicExitCode);
  absl::Status running = kv.CheckRunning();
  EXPECT_THAT(running, StatusIs(absl::StatusCode::kFailedPrecondition,
                                AllOf(HasSubstr(absl::StrCat(exit_text, " while serving")), HasSubstr("stage: serving"),
                                      HasSubstr("MimicKv: exiting with status 3 on Put(\"bye\")"))));
  EXPECT_THAT(running, CarriesFailure(AllOf(FailureAt(v1::Failure::SERVING, v1::Failure::EXITED),
                                            ProcessExitedWith(kMimicExitCode))));
  EXPECT_THAT(kv.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(absl::StrCat(exit_text, " while serving"))));
  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kAlreadyExited));
  EXPECT_FALSE(stopped.exit.signaled) << stopped.ToString();
  EXPECT_EQ(stopped.exit.code, kMimicExitCode) << stopped.ToString();
  EXPECT_EQ(stopped.exit.ToString(), exit_text);
  EXPECT_THAT(stopped.stderr_tail, HasSubstr("as --test_exit_on_key asks"));
  ExpectReapedEverywhere(pid);
}

TEST(FaultMatrixInProcessTest, ServerThatNeverBecomesReadyFailsStartWithDeadlineExceededAndIsKilled) {
  FixtureOptions options = KvOptions(Mode::kInProcess, "sleepy", {"--test_hang_before_ready"});
  options.ready_timeout = absl::Milliseconds(500);

  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kDeadlineExceeded,
                           AllOf(HasSubstr("(FIXTURE_SERVER(MimicKv)) was not ready within ready_timeout 500ms"),
                                 HasSubstr("killed it with SIGKILL"), HasSubstr("stage: start"),
                                 HasSubstr("MimicKv: hanging before ready as --test_hang_before_ready asks"),
                                 HasSubstr("raise FixtureOptions.ready_timeout"))));
  EXPECT_THAT(kv,
              CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::TIMED_OUT),
                                   Property(&v1::Failure::stderr_tail, HasSubstr("MimicKv: hanging before ready as "
                                                                                 "--test_hang_before_ready asks")))));
  ExpectNothingLeftOf(kv.status());
}

// --- SIGTERM to the test process --------------------------------------------------------

// The role: starts a fixture in each mode, prints
//   "fork_server=PID exec=PID inproc=PID exec_socket=PATH inproc_socket=PATH"
// and waits to be killed.
int RunSigtermTarget(const absl::Status& fork_server) {
  if (!fork_server.ok()) {
    printf("error %s\n", fork_server.ToString().c_str());
    return 1;
  }
  absl::StatusOr<Fixture> exec = Fixture::Start(KvOptions(Mode::kExec, "exec_kv"));
  absl::StatusOr<Fixture> inproc = Fixture::Start(KvOptions(Mode::kInProcess, "inproc_kv"));
  if (!exec.ok() || !inproc.ok()) {
    printf("error exec: %s; in process: %s\n", exec.status().ToString().c_str(), inproc.status().ToString().c_str());
    return 1;
  }
  printf("fork_server=%d exec=%d inproc=%d exec_socket=%s inproc_socket=%s\n", ForkServerPid(), exec->pid(),
         inproc->pid(), UnixSocketPath(exec->control_address()).c_str(),
         UnixSocketPath(inproc->control_address()).c_str());
  fflush(stdout);
  for (;;) pause();  // Until the test kills us.
}

TEST(FaultMatrixSigtermTest, SigtermToTheTestProcessEndsEveryServerAndTheForkServerWithinOneSecond) {
  // Orphans of our descendants become our children: the servers and the fork
  // server can then be reaped here, and how each ended checked.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0) << strerror(errno);
  absl::Cleanup not_subreaper = [] { prctl(PR_SET_CHILD_SUBREAPER, 0); };

  ASSERT_OK_AND_ASSIGN(RoleProcess role, SpawnRole(kSigtermTargetRole));
  std::vector<pid_t> to_reap = {role.pid};
  absl::Cleanup end_all = [&] {  // Only what an assertion left running.
    for (pid_t pid : to_reap) KillAndReap(pid).IgnoreError();
  };

  ASSERT_OK_AND_ASSIGN(std::string line, ReadLine(role.from_stdout.get(), absl::Now() + absl::Seconds(60)));
  std::vector<std::string> fields = absl::StrSplit(line, ' ');
  ASSERT_EQ(fields.size(), 5u) << "the role said: " << line;
  std::vector<pid_t> pids;
  std::vector<std::string> sockets;
  for (size_t i = 0; i < fields.size(); ++i) {
    std::vector<std::string> kv = absl::StrSplit(fields[i], absl::MaxSplits('=', 1));
    ASSERT_EQ(kv.size(), 2u) << "the role said: " << line;
    if (i < 3) {
      pid_t pid;
      ASSERT_TRUE(absl::SimpleAtoi(kv[1], &pid)) << "the role said: " << line;
      pids.push_back(pid);
    } else {
      sockets.push_back(kv[1]);
    }
  }
  const pid_t fork_server = pids[0], exec = pids[1], inproc = pids[2];
  to_reap.insert(to_reap.end(), pids.begin(), pids.end());
  EXPECT_EQ(ParentOf(fork_server), role.pid);
  EXPECT_EQ(ParentOf(exec), role.pid);
  EXPECT_EQ(ParentOf(inproc), fork_server);
  for (const std::string& socket : sockets) ASSERT_TRUE(PathExists(socket)) << socket;

  ASSERT_EQ(kill(role.pid, SIGTERM), 0) << strerror(errno);
  const absl::Time sent = absl::Now();
  ASSERT_OK_AND_ASSIGN(ExitInfo role_end, WaitForRole(role));
  to_reap.erase(to_reap.begin());
  EXPECT_EQ(role_end.ToString(), "killed by signal 15 (SIGTERM)");

  const char* names[] = {"fork server", "exec'ed server", "in-process server"};
  for (size_t i = 0; i < pids.size(); ++i) {
    EXPECT_TRUE(ExitsBy(pids[i], sent + absl::Seconds(1)))
        << "the " << names[i] << " 1s after its test process got SIGTERM";
  }
  printf("every process gone %s after SIGTERM\n", absl::FormatDuration(absl::Now() - sent).c_str());

  // How each ended: the fork server by its death signal (SIGKILL) or, when it
  // saw EOF on its socket first, by exiting 0; the servers by their death
  // signal (SIGTERM), which they take as a graceful stop. Each was reparented
  // to us, the subreaper.
  std::vector<std::string> ends;
  for (pid_t pid : pids) {
    ASSERT_OK_AND_ASSIGN(ExitInfo end, Reap(pid));
    to_reap.erase(std::find(to_reap.begin(), to_reap.end(), pid));
    ends.push_back(end.ToString());
  }
  EXPECT_THAT(ends[0], AnyOf("killed by signal 9 (SIGKILL)", "exited with status 0")) << "fork server";
  EXPECT_EQ(ends[1], "exited with status 0") << "exec'ed server";
  EXPECT_EQ(ends[2], "exited with status 0") << "in-process server";
  // The servers removed their sockets and private directories themselves.
  for (const std::string& socket : sockets) {
    EXPECT_FALSE(PathExists(socket)) << socket << " is left behind";
    EXPECT_FALSE(PathExists(DirName(socket))) << DirName(socket) << " is left behind";
  }
}

}  // namespace
}  // namespace fixture::reliability

int main(int argc, char** argv) {
  // Before anything else: the fork server needs a single-threaded process.
  absl::Status fork_server = fixture::StartForkServer();
  if (const char* role = fixture::testing::RoleOfThisProcess(); role != nullptr) {
    if (std::string(role) == fixture::reliability::kSigtermTargetRole) {
      return fixture::reliability::RunSigtermTarget(fork_server);
    }
    printf("unknown role %s\n", role);
    return 2;
  }
  if (!fork_server.ok()) fprintf(stderr, "no fork server: %s\n", fork_server.ToString().c_str());
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
