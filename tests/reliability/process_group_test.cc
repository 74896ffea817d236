// Servers behind wrapper scripts: every server leads its own process group,
// and what the group holds goes with it.
//
// A wrapper that runs the server as its child (not by exec) is the fixture's
// child; the server reports its own pid in the ReadyNotice, and that is
// Fixture::pid(). A stop reaches the whole group: when the control channel
// stalls and SIGINT is ignored, the SIGKILL ends the server too (it is
// killed, not left to stop on its own once the wrapper is gone). A sidecar a
// wrapper starts is killed with the group on a clean stop, and a wrapper that
// dies before it is ready while its sidecar holds the readiness pipe fails
// Start() at once (the parent watches the child's pidfd, not only the pipe),
// the sidecar killed.
//
// The wrappers are sh scripts beside this file (`data`); the test process is
// a subreaper where a process of the group is orphaned, so that it can reap
// it and see how it ended (or, when the orphan's own dying parent reaped it
// first, read how it ended from the kernel's record on its pidfd).
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/executable_path.h"
#include "fixture/fixture.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/proto/failure.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::reliability {
namespace {

using ::fixture::testing::IsReaped;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Lt;
using ::testing::Not;
using ::testing::Property;

constexpr char kServerAsChild[] = "tests/reliability/server_as_child.sh";
constexpr char kSidecarThenServer[] = "tests/reliability/sidecar_then_server.sh";
constexpr char kSidecarThenExit[] = "tests/reliability/sidecar_then_exit.sh";

// Options for `wrapper` running example/kv_server (its absolute path, the
// wrapper's first argument) with `server_args`.
absl::StatusOr<FixtureOptions> WrappedKv(const char* wrapper, std::string name,
                                         std::vector<std::string> server_args = {}) {
  absl::StatusOr<std::string> server = FindExecutable(kKvServerBinary);
  if (!server.ok()) return server.status();
  FixtureOptions options;
  options.name = std::move(name);
  options.program = Binary{wrapper};
  options.args = {*server};
  options.args.insert(options.args.end(), server_args.begin(), server_args.end());
  return options;
}

// Whether the process behind `pidfd` has exited (now, no waiting).
bool HasExited(int pidfd) {
  absl::StatusOr<bool> exited = PollReadable(pidfd, absl::Now(), "pidfd");
  return exited.ok() && *exited;
}

TEST(ProcessGroupTest, WrapperRunningTheServerAsAChildReportsTheServersPidAndStopsCleanly) {
  ASSERT_OK_AND_ASSIGN(FixtureOptions options, WrappedKv(kServerAsChild, "wrapped"));
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  const pid_t server = kv.pid();
  std::optional<pid_t> wrapper = ParentOf(server);
  ASSERT_TRUE(wrapper.has_value()) << "server pid " << server << " is not running";
  UniqueFd server_fd = OpenPidfd(server);
  ASSERT_TRUE(server_fd) << strerror(errno);

  // pid() is the server's own (from its ReadyNotice), not the wrapper's.
  EXPECT_NE(server, *wrapper);
  EXPECT_EQ(ParentOf(*wrapper), getpid()) << "the wrapper is the fixture's child";
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(status.pid(), server);
  // The wrapper leads a process group of its own, and the server is in it.
  EXPECT_EQ(ProcessGroupOf(*wrapper), *wrapper);
  EXPECT_EQ(ProcessGroupOf(server), *wrapper);
  EXPECT_NE(ProcessGroupOf(server), getpgrp());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "k", "v"));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedCleanly());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));
  EXPECT_EQ(stopped.exit.pid, *wrapper) << "the process Stop() reaps is the fixture's child";
  // The wrapper waited for the server, which exited first.
  EXPECT_TRUE(HasExited(server_fd.get())) << "server pid " << server << " outlived its wrapper";
  EXPECT_TRUE(IsReaped(*wrapper));
}

TEST(ProcessGroupTest, StalledServerBehindAWrapperIgnoringSigintIsKilledWithTheGroupBySigkill) {
  Subreaper subreaper;  // The server is reparented here when the wrapper dies.
  ASSERT_TRUE(subreaper.ok()) << "PR_SET_CHILD_SUBREAPER";
  ASSERT_OK_AND_ASSIGN(FixtureOptions options,
                       WrappedKv(kServerAsChild, "stubborn", {"--test_stall_control", "--test_ignore_sigint"}));
  // The steps expected to fail get short timeouts (each is waited out).
  options.stop.steps = {
      StopStep::Control(absl::Milliseconds(300)),
      StopStep::Signal(SIGINT, absl::Milliseconds(300)),
      StopStep::Signal(SIGKILL, absl::Seconds(10)),
  };
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  const pid_t server = kv.pid();
  std::optional<pid_t> wrapper = ParentOf(server);
  ASSERT_TRUE(wrapper.has_value());
  ASSERT_NE(server, *wrapper);
  UniqueFd server_fd = OpenPidfd(server);
  ASSERT_TRUE(server_fd) << strerror(errno);
  absl::Cleanup end_server = [&] { kill(server, SIGKILL); };  // Only if an assertion left it.

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedBySignal(SIGKILL));
  EXPECT_EQ(stopped.exit.pid, *wrapper);
  EXPECT_EQ(stopped.exit.ToString(), "killed by signal 9 (SIGKILL)");
  EXPECT_THAT(stopped.detail, AllOf(HasSubstr("control Shutdown failed: DEADLINE_EXCEEDED"),
                                    HasSubstr("no exit within 300ms of SIGINT")));

  // The server went with the group's SIGKILL: it did not live on to stop
  // once its wrapper was gone (a graceful exit 0). It comes here, the
  // subreaper, when the wrapper dies first; when it dies first, the dying
  // wrapper's wait(2) may still collect it (about 1 run in 20 under load),
  // and the kernel's exit record on its pidfd says how it ended.
  absl::StatusOr<ExitInfo> server_end = AwaitAndReapOrphan(server_fd.get(), server, absl::Now() + absl::Seconds(10));
  std::move(end_server).Cancel();
  if (absl::IsUnimplemented(server_end.status())) {
    // A kernel before 6.15 keeps no exit record: what is left to tell is
    // the server's stderr, where noticing its starter's exit would say so.
    printf("the server's end is unknown here: %s\n", server_end.status().ToString().c_str());
    EXPECT_THAT(kv.StderrTail(100), Not(HasSubstr("the process that started this server")));
  } else {
    ASSERT_OK(server_end.status());
    EXPECT_EQ(server_end->ToString(), "killed by signal 9 (SIGKILL)");
  }
  EXPECT_TRUE(IsReaped(*wrapper));
  EXPECT_TRUE(IsReaped(server));
}

TEST(ProcessGroupTest, SidecarOfAWrapperIsKilledWithTheGroupOnACleanStop) {
  Subreaper subreaper;  // The sidecar is reparented here when the wrapper exits.
  ASSERT_TRUE(subreaper.ok()) << "PR_SET_CHILD_SUBREAPER";
  ASSERT_OK_AND_ASSIGN(FixtureOptions options, WrappedKv(kSidecarThenServer, "sidecar"));
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  auto label = status.labels().find("sidecar_pid");
  ASSERT_NE(label, status.labels().end()) << status.ShortDebugString();
  pid_t sidecar;
  ASSERT_TRUE(absl::SimpleAtoi(label->second, &sidecar)) << label->second;
  UniqueFd sidecar_fd = OpenPidfd(sidecar);
  ASSERT_TRUE(sidecar_fd) << strerror(errno);
  absl::Cleanup end_sidecar = [&] { kill(sidecar, SIGKILL); };
  std::optional<pid_t> wrapper = ParentOf(kv.pid());
  ASSERT_TRUE(wrapper.has_value());
  EXPECT_EQ(ParentOf(sidecar), *wrapper);
  EXPECT_EQ(ProcessGroupOf(sidecar), *wrapper);

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedCleanly());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));

  ASSERT_OK_AND_ASSIGN(ExitInfo sidecar_end,
                       AwaitAndReapOrphan(sidecar_fd.get(), sidecar, absl::Now() + absl::Seconds(10)));
  std::move(end_sidecar).Cancel();
  EXPECT_EQ(sidecar_end.ToString(), "killed by signal 9 (SIGKILL)");
  EXPECT_THAT(ProcessGroupsBelow(getpid()), ::testing::IsEmpty());
}

TEST(ProcessGroupTest, WrapperExitingBeforeReadyWhileItsSidecarHoldsTheReadinessPipeFailsStartAtOnce) {
  Subreaper subreaper;
  ASSERT_TRUE(subreaper.ok()) << "PR_SET_CHILD_SUBREAPER";
  ASSERT_OK_AND_ASSIGN(FixtureOptions options, WrappedKv(kSidecarThenExit, "leaver"));
  options.ready_timeout = absl::Seconds(20);  // A failure well before this is the child's exit.

  const absl::Time start = absl::Now();
  absl::StatusOr<Fixture> kv = Fixture::Start(options);
  const absl::Duration took = absl::Now() - start;
  printf("Start() failed after %s\n", absl::FormatDuration(took).c_str());

  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr("sidecar_then_exit.sh) exited with status 1 before it was ready"),
                                 HasSubstr("stage: start"), HasSubstr("sidecar_pid="))));
  EXPECT_THAT(kv, CarriesFailure(AllOf(
                      FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1),
                      Property(&v1::Failure::program, EndsWith(kSidecarThenExit)),
                      Property(&v1::Failure::since_fork, Property(&google::protobuf::Duration::seconds, Lt(5))))));
  EXPECT_LT(took, absl::Seconds(5));
  ExpectNothingLeftOf(kv.status());

  std::optional<v1::Failure> failure = FailureOf(kv.status());
  ASSERT_TRUE(failure.has_value());
  const std::string& tail = failure->stderr_tail();
  size_t at = tail.find("sidecar_pid=");
  ASSERT_NE(at, std::string::npos) << tail;
  pid_t sidecar;
  ASSERT_TRUE(absl::SimpleAtoi(tail.substr(at + 12, tail.find('\n', at) - at - 12), &sidecar)) << tail;
  // Ours (reparented when the wrapper exited): a zombie, or on its way.
  UniqueFd sidecar_fd = OpenPidfd(sidecar);
  ASSERT_TRUE(sidecar_fd) << "pidfd_open(" << sidecar << "): " << strerror(errno);
  ASSERT_OK_AND_ASSIGN(ExitInfo sidecar_end,
                       AwaitAndReapOrphan(sidecar_fd.get(), sidecar, absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(sidecar_end.ToString(), "killed by signal 9 (SIGKILL)");
}

}  // namespace
}  // namespace fixture::reliability
