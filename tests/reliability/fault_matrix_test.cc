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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/child_process.h"
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/mimic_kv.h"
#include "tests/reliability/reliability_util.h"
#include "tests/role_process.h"

extern char** environ;

namespace fixture::reliability {
namespace {

using ::fixture::testing::ReadLine;
using ::fixture::testing::RoleProcess;
using ::fixture::testing::SpawnRole;

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSigtermTargetRole[] = "sigterm_target";

// What a start failure message says the process was ("server pid N (...)").

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

// After a failed start: the child named in `failure` is reaped everywhere and
// its socket directory removed (the control socket may have been up).
void ExpectNothingLeftOf(const absl::Status& failure) {
  const pid_t pid = PidInMessage(failure.message());
  ASSERT_GT(pid, 0) << failure;
  ExpectReapedEverywhere(pid);
  const std::string socket = ControlSocketInMessage(failure.message());
  ASSERT_THAT(socket, HasSubstr("/fixture-")) << failure;
  EXPECT_FALSE(PathExists(DirName(socket))) << DirName(socket) << " is left behind";
}

TEST_P(FaultMatrixTest, ServerKilledBySigkillWhileServingIsReportedByStatusAndStopWithTheSignal) {
  const Mode mode = GetParam();
  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions(mode, "oom"));
  ASSERT_TRUE(kv.ok()) << kv.status();
  const pid_t pid = kv->pid();
  const std::string socket_dir = DirName(UnixPath(kv->control_address()));
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = kv->channel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  ASSERT_TRUE(KvPut(*channel, "before", "1").ok());

  // As the OOM killer would: no warning, nothing on stderr.
  ASSERT_EQ(kill(pid, SIGKILL), 0) << strerror(errno);
  absl::StatusOr<bool> exited = AwaitExit(pid, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(exited.ok()) << exited.status();
  ASSERT_TRUE(*exited) << "pid " << pid << " still runs 10s after SIGKILL";

  EXPECT_THAT(kv->status().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(absl::StrCat("fixture \"oom\": server pid ", pid, " (")),
                             HasSubstr(WhatRuns(mode)), HasSubstr("killed by signal 9 (SIGKILL) while serving"),
                             HasSubstr("stage: serving"), HasSubstr("last lines:"))));
  EXPECT_EQ(KvPut(*channel, "after", "2").code(), absl::StatusCode::kUnavailable);

  absl::StatusOr<StopResult> stopped = kv->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->stage, StopStage::kAlreadyExited) << stopped->ToString();
  EXPECT_EQ(stopped->exit.pid, pid);
  EXPECT_TRUE(stopped->exit.signaled) << stopped->ToString();
  EXPECT_EQ(stopped->exit.signal, SIGKILL) << stopped->ToString();
  EXPECT_FALSE(stopped->clean());
  EXPECT_NE(stopped->stderr_tail, "") << "a stop that is not clean quotes stderr, even when it is empty";
  EXPECT_THAT(stopped->ToString(), AllOf(HasSubstr("killed by signal 9 (SIGKILL)"), HasSubstr("already exited")));
  ExpectReapedEverywhere(pid);
  EXPECT_FALSE(PathExists(socket_dir)) << socket_dir << " is left behind";
}

TEST_P(FaultMatrixTest, ServerExitingWithStatus0BeforeReadyFailsStartWithFailedPrecondition) {
  const Mode mode = GetParam();
  FixtureOptions options = KvOptions(mode, "quitter", {"--test_exit_before_ready=0"});
  options.ready_timeout = absl::Seconds(60);  // A failure well before this is the child's own.

  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(absl::StrCat("fixture \"quitter\": server pid ")),
                             HasSubstr(absl::StrCat(WhatRuns(mode), " exited with status 0 before it was ready")),
                             HasSubstr("stage: start"),
                             HasSubstr(ServerSays(mode,
                                                  "exiting with status 0 before ready as "
                                                  "--test_exit_before_ready asks")))));
  ExpectNothingLeftOf(kv.status());
}

INSTANTIATE_TEST_SUITE_P(BothModes, FaultMatrixTest, ::testing::Values(Mode::kExec, Mode::kInProcess),
                         [](const ::testing::TestParamInfo<Mode>& info) { return ModeName(info.param); });

TEST(FaultMatrixInProcessTest, AbortInAHandlerWhileServingIsReportedByStatusAndStopWithItsStderr) {
  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions(Mode::kInProcess, "crashy", {"--test_crash_on_key=boom"}));
  ASSERT_TRUE(kv.ok()) << kv.status();
  const pid_t pid = kv->pid();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = kv->channel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  ASSERT_TRUE(KvPut(*channel, "fine", "1").ok());

  EXPECT_EQ(KvPut(*channel, "boom", "!").code(), absl::StatusCode::kUnavailable);
  absl::StatusOr<bool> exited = AwaitExit(pid, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(exited.ok()) << exited.status();
  ASSERT_TRUE(*exited) << "pid " << pid << " still runs 10s after it aborted";

  EXPECT_THAT(
      kv->status().status(),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr(absl::StrCat("server pid ", pid, " (FIXTURE_SERVER(MimicKv))")),
                     HasSubstr("killed by signal 6 (SIGABRT"), HasSubstr("while serving"), HasSubstr("stage: serving"),
                     HasSubstr("MimicKv: crashing on Put(\"boom\") as --test_crash_on_key asks"))));
  absl::StatusOr<StopResult> stopped = kv->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->stage, StopStage::kAlreadyExited) << stopped->ToString();
  EXPECT_TRUE(stopped->exit.signaled) << stopped->ToString();
  EXPECT_EQ(stopped->exit.signal, SIGABRT) << stopped->ToString();
  EXPECT_THAT(stopped->stderr_tail, HasSubstr("MimicKv: crashing on Put(\"boom\")"));
  ExpectReapedEverywhere(pid);
}

TEST(FaultMatrixInProcessTest, ExitWithStatus3WhileServingIsReportedByStatusAndStopWithTheStatus) {
  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions(Mode::kInProcess, "quits", {"--test_exit_on_key=bye"}));
  ASSERT_TRUE(kv.ok()) << kv.status();
  const pid_t pid = kv->pid();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = kv->channel();
  ASSERT_TRUE(channel.ok()) << channel.status();

  EXPECT_EQ(KvPut(*channel, "bye", "!").code(), absl::StatusCode::kUnavailable);
  absl::StatusOr<bool> exited = AwaitExit(pid, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(exited.ok()) << exited.status();
  ASSERT_TRUE(*exited) << "pid " << pid << " still runs 10s after it exited";

  const std::string exit_text = absl::StrCat("exited with status ", kMimicExitCode);
  EXPECT_THAT(kv->CheckRunning(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(absl::StrCat(exit_text, " while serving")), HasSubstr("stage: serving"),
                             HasSubstr("MimicKv: exiting with status 3 on Put(\"bye\")"))));
  EXPECT_THAT(kv->status().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(absl::StrCat(exit_text, " while serving"))));
  absl::StatusOr<StopResult> stopped = kv->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->stage, StopStage::kAlreadyExited) << stopped->ToString();
  EXPECT_FALSE(stopped->exit.signaled) << stopped->ToString();
  EXPECT_EQ(stopped->exit.code, kMimicExitCode) << stopped->ToString();
  EXPECT_EQ(stopped->exit.ToString(), exit_text);
  EXPECT_THAT(stopped->stderr_tail, HasSubstr("as --test_exit_on_key asks"));
  ExpectReapedEverywhere(pid);
}

TEST(FaultMatrixInProcessTest, ServerThatNeverBecomesReadyFailsStartWithDeadlineExceededAndIsKilled) {
  FixtureOptions options = KvOptions(Mode::kInProcess, "sleepy", {"--test_hang_before_ready"});
  options.ready_timeout = absl::Milliseconds(500);

  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv.status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("(FIXTURE_SERVER(MimicKv)) was not ready within ready_timeout 500ms"),
                             HasSubstr("killed it with SIGKILL"), HasSubstr("stage: start"),
                             HasSubstr("MimicKv: hanging before ready as --test_hang_before_ready asks"),
                             HasSubstr("raise FixtureOptions.ready_timeout"))));
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
         inproc->pid(), UnixPath(exec->control_address()).c_str(), UnixPath(inproc->control_address()).c_str());
  fflush(stdout);
  for (;;) pause();  // Until the test kills us.
}

TEST(FaultMatrixSigtermTest, SigtermToTheTestProcessEndsEveryServerAndTheForkServerWithinOneSecond) {
  // Orphans of our descendants become our children: the servers and the fork
  // server can then be reaped here, and how each ended checked.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0) << strerror(errno);
  absl::Cleanup not_subreaper = [] { prctl(PR_SET_CHILD_SUBREAPER, 0); };

  absl::StatusOr<RoleProcess> role = SpawnRole(kSigtermTargetRole);
  ASSERT_TRUE(role.ok()) << role.status();
  std::vector<pid_t> to_reap = {role->pid};
  absl::Cleanup end_all = [&] {  // Only what an assertion left running.
    for (pid_t pid : to_reap) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  };

  absl::StatusOr<std::string> line = ReadLine(role->from_stdout.get(), absl::Now() + absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status();
  std::vector<std::string> fields = absl::StrSplit(*line, ' ');
  ASSERT_EQ(fields.size(), 5u) << "the role said: " << *line;
  std::vector<pid_t> pids;
  std::vector<std::string> sockets;
  for (size_t i = 0; i < fields.size(); ++i) {
    std::vector<std::string> kv = absl::StrSplit(fields[i], absl::MaxSplits('=', 1));
    ASSERT_EQ(kv.size(), 2u) << "the role said: " << *line;
    if (i < 3) {
      pid_t pid;
      ASSERT_TRUE(absl::SimpleAtoi(kv[1], &pid)) << "the role said: " << *line;
      pids.push_back(pid);
    } else {
      sockets.push_back(kv[1]);
    }
  }
  const pid_t fork_server = pids[0], exec = pids[1], inproc = pids[2];
  to_reap.insert(to_reap.end(), pids.begin(), pids.end());
  EXPECT_EQ(ParentOf(fork_server), role->pid);
  EXPECT_EQ(ParentOf(exec), role->pid);
  EXPECT_EQ(ParentOf(inproc), fork_server);
  for (const std::string& socket : sockets) ASSERT_TRUE(PathExists(socket)) << socket;

  ASSERT_EQ(kill(role->pid, SIGTERM), 0) << strerror(errno);
  const absl::Time sent = absl::Now();
  int role_status = 0;
  ASSERT_EQ(waitpid(role->pid, &role_status, 0), role->pid) << strerror(errno);
  to_reap.erase(to_reap.begin());
  EXPECT_EQ(ExitInfo::FromWaitStatus(role->pid, role_status).ToString(), "killed by signal 15 (SIGTERM)");

  const char* names[] = {"fork server", "exec'ed server", "in-process server"};
  for (size_t i = 0; i < pids.size(); ++i) {
    absl::StatusOr<bool> gone = AwaitExit(pids[i], sent + absl::Seconds(1));
    ASSERT_TRUE(gone.ok()) << gone.status();
    EXPECT_TRUE(*gone) << "the " << names[i] << " (pid " << pids[i]
                       << ") still runs 1s after its test process got SIGTERM";
  }
  printf("every process gone %s after SIGTERM\n", absl::FormatDuration(absl::Now() - sent).c_str());

  // How each ended: the fork server by its death signal (SIGKILL) or, when it
  // saw EOF on its socket first, by exiting 0; the servers by their death
  // signal (SIGTERM), which they take as a graceful stop.
  std::vector<std::string> ends;
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid) << "pid " << pid << " was not reparented to us: " << strerror(errno);
    ends.push_back(ExitInfo::FromWaitStatus(pid, status).ToString());
  }
  to_reap.clear();
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
