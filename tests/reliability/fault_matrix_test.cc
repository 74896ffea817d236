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
// Process groups (each server leads its own): a sidecar that the server's
// setup starts is killed with it on a clean stop, and a server that exits
// before it is ready while its sidecar holds the readiness pipe fails Start()
// at once (the pidfd is watched, not only the pipe), the sidecar killed too.
// The test process is a subreaper there, so that it can reap the sidecar and
// see that SIGKILL ended it. Also in both modes: a Health.Watch stream on the
// service endpoint does not hold a stop for its grace, and the endpoint
// names "control" and "pid" are refused at setup.
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
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/executable_path.h"
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/socket_path.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/proto/failure.pb.h"
#include "fixture/testing.h"
#include "fixture/third_party/grpc_health/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
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
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Lt;
using ::testing::Not;
using ::testing::Property;
using ::testing::StartsWith;

constexpr char kSigtermTargetRole[] = "sigterm_target";
constexpr char kSidecarParentRole[] = "sidecar_parent";

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

// The pid a server's --test_sidecar reported in its labels.
absl::StatusOr<pid_t> SidecarFromLabels(const v1::Status& status) {
  auto label = status.labels().find("sidecar_pid");
  pid_t pid;
  if (label == status.labels().end() || !absl::SimpleAtoi(label->second, &pid)) {
    return absl::NotFoundError(absl::StrCat("no label sidecar_pid in ", status.ShortDebugString()));
  }
  return pid;
}

// The pid in the line "...: started sidecar pid N as --test_sidecar asks" of
// a stderr tail.
absl::StatusOr<pid_t> SidecarFromStderr(absl::string_view tail) {
  constexpr absl::string_view kSays = "started sidecar pid ";
  size_t at = tail.find(kSays);
  if (at == absl::string_view::npos) return absl::NotFoundError(absl::StrCat("no sidecar in:\n", tail));
  absl::string_view rest = tail.substr(at + kSays.size());
  pid_t pid;
  if (!absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &pid)) {
    return absl::NotFoundError(absl::StrCat("no sidecar pid in:\n", tail));
  }
  return pid;
}

TEST_P(FaultMatrixTest, SidecarThatTheSetupStartedIsKilledWithItsServerOnACleanStop) {
  const Mode mode = GetParam();
  Subreaper subreaper;  // The sidecar is reparented here when its server is gone.
  ASSERT_TRUE(subreaper.ok()) << "PR_SET_CHILD_SUBREAPER";
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(mode, "sidecar", {"--test_sidecar"})));
  const pid_t pid = kv.pid();
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(status.pid(), pid);
  ASSERT_OK_AND_ASSIGN(const pid_t sidecar, SidecarFromLabels(status));
  UniqueFd sidecar_fd = OpenPidfd(sidecar);  // Names this process for good, whoever reaps it.
  ASSERT_TRUE(sidecar_fd) << "pidfd_open(" << sidecar << "): " << strerror(errno);
  absl::Cleanup end_sidecar = [&] { kill(sidecar, SIGKILL); };  // Only if an assertion left it.

  // The server leads a group of its own, and its sidecar is in it.
  EXPECT_EQ(ProcessGroupOf(pid), pid);
  EXPECT_NE(ProcessGroupOf(pid), getpgrp());
  EXPECT_EQ(ProcessGroupOf(sidecar), pid);
  EXPECT_EQ(ParentOf(sidecar), pid);
  EXPECT_THAT(ProcessGroupsBelow(getpid()), Contains(pid));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedCleanly());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));

  // Nobody else would end a `sleep 300`: what is left of the group when its
  // leader exits is killed before the leader is reaped.
  ASSERT_OK_AND_ASSIGN(ExitInfo sidecar_end,
                       AwaitAndReapOrphan(sidecar_fd.get(), sidecar, absl::Now() + absl::Seconds(10)));
  std::move(end_sidecar).Cancel();
  EXPECT_EQ(sidecar_end.ToString(), "killed by signal 9 (SIGKILL)");
  ExpectReapedEverywhere(pid);
  EXPECT_THAT(ProcessGroupsBelow(getpid()), Not(Contains(pid)));
}

TEST_P(FaultMatrixTest, ServerExitingBeforeReadyWhileItsSidecarHoldsTheReadinessPipeFailsStartAtOnce) {
  const Mode mode = GetParam();
  Subreaper subreaper;
  ASSERT_TRUE(subreaper.ok()) << "PR_SET_CHILD_SUBREAPER";
  // The sidecar keeps the pipe's write end open: no EOF comes while it lives.
  // Only the server's own exit (its pidfd) can end the wait before this.
  FixtureOptions options = KvOptions(mode, "leaver", {"--test_sidecar", "--test_exit_before_ready=1"});
  options.ready_timeout = absl::Seconds(20);

  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr(absl::StrCat(WhatRuns(mode), " exited with status 1 before it was ready")),
                                 HasSubstr("stage: start"), HasSubstr(ServerSays(mode, "started sidecar pid ")))));
  EXPECT_THAT(kv, CarriesFailure(AllOf(
                      FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1),
                      // Well before ready_timeout: at the exit, not when the sidecar lets go of the pipe.
                      Property(&v1::Failure::since_fork, Property(&google::protobuf::Duration::seconds, Lt(5))))));
  ExpectNothingLeftOf(kv.status());
  std::optional<v1::Failure> failure = FailureOf(kv.status());
  ASSERT_TRUE(failure.has_value());
  ASSERT_OK_AND_ASSIGN(const pid_t sidecar, SidecarFromStderr(failure->stderr_tail()));
  // Ours now (a zombie, or on its way): its pid cannot be reused until reaped.
  UniqueFd sidecar_fd = OpenPidfd(sidecar);
  ASSERT_TRUE(sidecar_fd) << "pidfd_open(" << sidecar << "): " << strerror(errno) << "; parent "
                          << ParentOf(sidecar).value_or(-1);
  ASSERT_OK_AND_ASSIGN(ExitInfo sidecar_end,
                       AwaitAndReapOrphan(sidecar_fd.get(), sidecar, absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(sidecar_end.ToString(), "killed by signal 9 (SIGKILL)");
}

TEST_P(FaultMatrixTest, HealthWatchOnTheServiceEndpointDoesNotHoldAStopForItsGrace) {
  const Mode mode = GetParam();
  FixtureOptions options = KvOptions(mode, "watched");
  options.stop.grace = absl::Seconds(5);  // What a counted Watch would hold the stop for.
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());

  // A generic client following the service's health, as a load balancer would.
  grpc::ClientContext context;
  const absl::Time watch_deadline = absl::Now() + absl::Seconds(30);
  context.set_deadline(absl::ToChronoTime(watch_deadline));
  std::unique_ptr<grpc::health::v1::Health::Stub> health = grpc::health::v1::Health::NewStub(channel);
  std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>> watch =
      health->Watch(&context, grpc::health::v1::HealthCheckRequest());
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response)) << "no first health status";
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // The Watch is open on the server (its first answer came from there), and
  // the service works beside it.
  ASSERT_OK(KvPut(channel, "k", "v"));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop with a Watch open: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedCleanly());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));
  // A bound on behaviour, not a timing goal: a Watch counted as in flight
  // would hold the stop for the whole 5 s grace.
  EXPECT_LT(stopped.duration, absl::Seconds(2)) << stopped.ToString();

  // The stream ends with the server (whatever its last status says), long
  // before its own deadline.
  std::vector<std::string> seen;
  while (watch->Read(&response))
    seen.push_back(grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()));
  grpc::Status ended = watch->Finish();
  printf("the Watch ended with %d (%s) after %s\n", ended.error_code(), ended.error_message().c_str(),
         absl::StrJoin(seen, ", ").c_str());
  EXPECT_NE(ended.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << "the stream outlived the server";
  EXPECT_LT(absl::Now(), watch_deadline - absl::Seconds(20));
  EXPECT_THAT(seen, Not(Contains("SERVING"))) << "a SERVING health status once the stop began";
}

TEST_P(FaultMatrixTest, ReservedEndpointNamesFailTheSetupWithTheErrorInTheStderrTail) {
  const Mode mode = GetParam();
  for (const char* name : {"pid", "PID", "control", "Control", "cOnTrOl"}) {
    SCOPED_TRACE(name);
    FixtureOptions options = KvOptions(mode, "reserved", {absl::StrCat("--test_extra_endpoint=", name)});
    options.ready_timeout = absl::Seconds(20);
    absl::StatusOr<Fixture> kv = Fixture::Start(options);
    const std::string setup_error = absl::StrCat("setup failed: INVALID_ARGUMENT: endpoint name \"", name,
                                                 "\": reserved (FIXTURE_<NAME>_CONTROL and FIXTURE_<NAME>_PID");
    EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr("exited with status 1 before it was ready"), HasSubstr(setup_error))));
    EXPECT_THAT(kv, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1),
                                         Property(&v1::Failure::stderr_tail, HasSubstr(setup_error)))));
    ExpectNothingLeftOf(kv.status());
  }
  // Only the exact names: these contain them and are fine.
  for (const char* name : {"pidfile", "controller", "my_pid"}) {
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(Fixture kv,
                         Fixture::Start(KvOptions(mode, "allowed", {absl::StrCat("--test_extra_endpoint=", name)})));
    EXPECT_OK(kv.endpoint(name));
    EXPECT_THAT(kv.Stop(), StoppedCleanly());
  }
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

// --- A SIGKILLed test process and the sidecars of its servers ---------------------------

// The role: starts a server with a sidecar in each mode and one behind a
// wrapper script that runs it as a child (the wrapper starts the sidecar),
// prints "exec=PID exec_sidecar=PID inproc=PID inproc_sidecar=PID
// wrapper=PID wrapped=PID wrapped_sidecar=PID" and waits to be killed.
int RunSidecarParent(const absl::Status& fork_server) {
  if (!fork_server.ok()) {
    printf("error %s\n", fork_server.ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::string> server = FindExecutable(kKvServerBinary);
  if (!server.ok()) {
    printf("error %s\n", server.status().ToString().c_str());
    return 1;
  }
  FixtureOptions wrapped_options;
  wrapped_options.name = "wrapped";
  wrapped_options.program = Binary{"tests/reliability/sidecar_then_server.sh"};
  wrapped_options.args = {*server};
  absl::StatusOr<Fixture> exec = Fixture::Start(KvOptions(Mode::kExec, "exec_kv", {"--test_sidecar"}));
  absl::StatusOr<Fixture> inproc = Fixture::Start(KvOptions(Mode::kInProcess, "inproc_kv", {"--test_sidecar"}));
  absl::StatusOr<Fixture> wrapped = Fixture::Start(wrapped_options);
  std::string line;
  for (auto [name, fixture] :
       {std::pair{"exec", &exec}, std::pair{"inproc", &inproc}, std::pair{"wrapped", &wrapped}}) {
    absl::StatusOr<v1::Status> status = fixture->ok() ? (*fixture)->status() : fixture->status();
    if (!status.ok() || status->labels().count("sidecar_pid") == 0) {
      printf("error %s: %s\n", name, status.status().ToString().c_str());
      return 1;
    }
    absl::StrAppend(&line, name, "=", (*fixture)->pid(), " ", name, "_sidecar=", status->labels().at("sidecar_pid"),
                    " ");
  }
  absl::StrAppend(&line, "wrapper=", ParentOf(wrapped->pid()).value_or(-1));
  printf("%s\n", line.c_str());
  fflush(stdout);
  for (;;) pause();  // Until the test kills us.
}

// Spawns the sidecar_parent role, SIGKILLs it and reaps (as the subreaper)
// every process it named: how each ended, by name ("exec", "exec_sidecar",
// ...), or why it could not be reaped within 10 s.
void KillSidecarParentAndReapAll(std::map<std::string, std::string>* ends) {
  Subreaper subreaper;  // Every orphan of the role's tree comes here.
  ASSERT_TRUE(subreaper.ok()) << "PR_SET_CHILD_SUBREAPER";
  ASSERT_OK_AND_ASSIGN(RoleProcess role, SpawnRole(kSidecarParentRole));
  std::map<std::string, pid_t> pids;
  std::map<std::string, UniqueFd> pidfds;
  bool role_reaped = false;
  absl::Cleanup end_all = [&] {  // What is left: killed and reaped, so that no later test sees it.
    if (!role_reaped) KillAndReap(role.pid).IgnoreError();
    for (const auto& [name, pid] : pids) {
      const std::string end = ends->count(name) != 0 ? (*ends)[name] : "";
      if (!absl::StartsWith(end, "killed") && !absl::StartsWith(end, "exited")) {
        KillAndReap(pid).IgnoreError();
      }
    }
  };
  ASSERT_OK_AND_ASSIGN(std::string line, ReadLine(role.from_stdout.get(), absl::Now() + absl::Seconds(60)));
  ASSERT_OK(OpenNamedPids(line, &pids, &pidfds));
  ASSERT_EQ(pids.size(), 7u) << "the role said: " << line;
  EXPECT_EQ(ProcessGroupOf(pids["wrapped_sidecar"]), pids["wrapper"]);
  EXPECT_EQ(ProcessGroupOf(pids["exec_sidecar"]), pids["exec"]);
  EXPECT_EQ(ProcessGroupOf(pids["inproc_sidecar"]), pids["inproc"]);

  ASSERT_EQ(kill(role.pid, SIGKILL), 0) << strerror(errno);
  const absl::Time killed = absl::Now();
  ASSERT_OK_AND_ASSIGN(ExitInfo role_end, WaitForRole(role));
  role_reaped = true;
  EXPECT_EQ(role_end.ToString(), "killed by signal 9 (SIGKILL)");
  for (auto& [name, pidfd] : pidfds) {
    absl::StatusOr<ExitInfo> end = AwaitAndReapOrphan(pidfd.get(), pids[name], killed + absl::Seconds(10));
    (*ends)[name] = end.ok() ? end->ToString() : end.status().ToString();
  }
  printf("the role's SIGKILL: %s later: %s\n", absl::FormatDuration(absl::Now() - killed).c_str(),
         absl::StrJoin(*ends, ", ", absl::PairFormatter("=")).c_str());
}

// The chain: the role's death ends its children (the exec'ed server sees
// its starter's exit on a pidfd, server/parent_watch.h; the wrapper, which
// is no server/ program, gets its death signal, PR_SET_PDEATHSIG; the fork
// server gets SIGKILL, and its exit ends the in-process server); each server
// stops gracefully, and a wrapper's sidecar goes with the server's SIGTERM
// to the rest of its group (the server, its starter gone, sends it as it
// exits).
TEST(FaultMatrixDeathChainTest, SigkilledTestProcessTakesItsServersAndAWrappersSidecarDown) {
  std::map<std::string, std::string> ends;
  KillSidecarParentAndReapAll(&ends);
  EXPECT_EQ(ends["exec"], "exited with status 0");
  EXPECT_EQ(ends["inproc"], "exited with status 0");
  EXPECT_EQ(ends["wrapped"], "exited with status 0");
  EXPECT_EQ(ends["wrapper"], "killed by signal 15 (SIGTERM)");
  EXPECT_EQ(ends["wrapped_sidecar"], "killed by signal 15 (SIGTERM)");
}

// The same chain for a sidecar the server's own code started (posix_spawn in
// its setup, as --test_sidecar does): it must end too, not outlive the test.
// Such a sidecar inherits the server's blocked SIGTERM, so it is the
// server's SIGKILL that ends it. (This once failed 1 run in 3 for the exec'ed
// server: the death signal of its many-threaded parent came when the thread
// that forked it died, the server stopped before the last thread was gone,
// found getppid() unchanged and ended nothing. The pidfd watch waits for the
// whole process.)
TEST(FaultMatrixDeathChainTest, SigkilledTestProcessTakesTheSidecarsItsServersStartedDown) {
  std::map<std::string, std::string> ends;
  KillSidecarParentAndReapAll(&ends);
  for (const char* sidecar : {"exec_sidecar", "inproc_sidecar"}) {
    EXPECT_THAT(ends[sidecar], StartsWith("killed by signal")) << sidecar;
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
    if (std::string(role) == fixture::reliability::kSidecarParentRole) {
      return fixture::reliability::RunSidecarParent(fork_server);
    }
    printf("unknown role %s\n", role);
    return 2;
  }
  if (!fork_server.ok()) fprintf(stderr, "no fork server: %s\n", fork_server.ToString().c_str());
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
