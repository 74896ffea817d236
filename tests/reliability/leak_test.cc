// Many start/stop cycles leave nothing behind: the census of this process
// (open descriptors, threads, children of this process and of the fork
// server, socket directories, process groups below this process, directory
// locks) after 1,000 in-process cycles and after 100 exec cycles equals the
// census before them. The test process is a subreaper meanwhile, so that a
// process left of a server's group would be reparented here and counted.
//
// gRPC creates some threads and descriptors on first use, and the fork thread
// starts with the first exec: a few warm-up cycles run before the first
// census. Each cycle is a real one: start, a Put on the service, a GetStatus
// on the control channel, a clean stop through the control channel.
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::reliability {
namespace {

constexpr int kWarmUpCycles = 3;

class LeakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(subreaper_.ok()) << "PR_SET_CHILD_SUBREAPER";
    ASSERT_OK_AND_ASSIGN(SocketBase base, SocketBase::Create());
    base_ = std::make_unique<SocketBase>(std::move(base));
    const char* tmpdir = getenv("TEST_TMPDIR");
    ASSERT_NE(tmpdir, nullptr) << "run under bazel test";
    log_dir_ = tmpdir;
  }

  // One cycle; a failure names what went wrong. With `sidecar`, the server
  // starts one (--test_sidecar), which must end killed by SIGKILL with the
  // server's group; it is reaped here (this process is the subreaper).
  absl::Status Cycle(Mode mode, bool sidecar = false) {
    FixtureOptions options = KvOptions(mode, "cycle");
    if (sidecar) options.args.push_back("--test_sidecar");
    options.socket_dir = base_->path();
    // Kept on disk, then deleted, so that a thousand cycles do not pile up
    // two thousand files in the test's outputs.
    options.log_dir = log_dir_;
    absl::StatusOr<Fixture> kv = Fixture::Start(options);
    if (!kv.ok()) return kv.status();
    const std::string stderr_path = kv->stderr_path();
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = kv->channel();
    if (!channel.ok()) return channel.status();
    if (absl::Status put = KvPut(*channel, "k", "v"); !put.ok()) return put;
    absl::StatusOr<v1::Status> status = kv->status();
    if (!status.ok()) return status.status();
    if (status->state() != v1::SERVING) return absl::InternalError(v1::State_Name(status->state()));
    pid_t sidecar_pid = -1;
    UniqueFd sidecar_fd;
    if (sidecar) {
      auto label = status->labels().find("sidecar_pid");
      if (label == status->labels().end() || !absl::SimpleAtoi(label->second, &sidecar_pid)) {
        return absl::InternalError(absl::StrCat("no sidecar_pid label: ", status->ShortDebugString()));
      }
      sidecar_fd = OpenPidfd(sidecar_pid);
      if (!sidecar_fd) return absl::InternalError(absl::StrCat("pidfd_open(sidecar ", sidecar_pid, ") failed"));
    }
    absl::StatusOr<StopResult> stopped = kv->Stop();
    if (!stopped.ok()) return stopped.status();
    if (stopped->stage != StopStage::kControl || !stopped->clean()) {
      return absl::InternalError(absl::StrCat("not a clean stop by control: ", stopped->ToString()));
    }
    if (sidecar) {
      absl::StatusOr<ExitInfo> end = AwaitAndReapOrphan(sidecar_fd.get(), sidecar_pid, absl::Now() + absl::Seconds(10));
      if (!end.ok()) return end.status();
      if (end->ToString() != "killed by signal 9 (SIGKILL)") {
        return absl::InternalError(absl::StrCat("sidecar ", sidecar_pid, " ", end->ToString()));
      }
    }
    unlink(stderr_path.c_str());
    unlink(absl::StrReplaceAll(stderr_path, {{".stderr.log", ".stdout.log"}}).c_str());
    return absl::OkStatus();
  }

  void ExpectNoLeakOver(Mode mode, int cycles, bool sidecar = false) {
    for (int i = 0; i < kWarmUpCycles; ++i) ASSERT_OK(Cycle(mode, sidecar)) << "warm-up " << i;
    const Census before = TakeCensus(base_->path());
    const absl::Time start = absl::Now();
    for (int i = 0; i < cycles; ++i) ASSERT_OK(Cycle(mode, sidecar)) << "cycle " << i;
    const absl::Duration took = absl::Now() - start;
    const Census after = TakeCensus(base_->path());
    printf("%d %s cycles in %s (%s each); census %s\n", cycles, ModeName(mode).c_str(),
           absl::FormatDuration(took).c_str(), absl::FormatDuration(took / cycles).c_str(), after.ToString().c_str());

    EXPECT_FALSE(after.grpc_initialized) << "a gRPC object (channel, stub, server) outlived its fixture";
    EXPECT_EQ(after.open_fds, before.open_fds) << "descriptors leaked";
    EXPECT_EQ(after.threads, before.threads) << "threads leaked";
    EXPECT_EQ(after.children, before.children) << "children of this process left";
    EXPECT_EQ(after.fork_server_children, before.fork_server_children) << "children of the fork server left";
    EXPECT_EQ(after.socket_dirs, before.socket_dirs) << "socket directories left in " << base_->path();
    EXPECT_EQ(after.process_groups, before.process_groups) << "processes left in the groups of stopped servers";
    EXPECT_EQ(after.dir_locks, before.dir_locks) << "private directories still held (flock)";
    // The only child is the fork server itself.
    EXPECT_THAT(after.children, ::testing::ElementsAre(ForkServerPid()));
    EXPECT_THAT(after.fork_server_children, ::testing::IsEmpty());
    EXPECT_THAT(after.socket_dirs, ::testing::IsEmpty());
    EXPECT_THAT(after.process_groups, ::testing::IsEmpty());
    EXPECT_EQ(after.dir_locks, 0);
  }

  Subreaper subreaper_;
  std::unique_ptr<SocketBase> base_;
  std::string log_dir_;
};

TEST_F(LeakTest, ThousandInProcessStartStopCyclesLeaveNoDescriptorThreadChildOrDirectory) {
  ASSERT_GT(ForkServerPid(), 0) << "no fork server";
  ExpectNoLeakOver(Mode::kInProcess, 1000);
}

TEST_F(LeakTest, HundredExecStartStopCyclesLeaveNoDescriptorThreadChildOrDirectory) {
  ExpectNoLeakOver(Mode::kExec, 100);
}

// Each server starts a sidecar (`sleep 300`) that nothing but the kill of its
// group ends: after each stop it is reaped here, killed by SIGKILL, and no
// process group is left below this process.
TEST_F(LeakTest, CyclesOfServersWithSidecarsLeaveNoProcessBehindInEitherMode) {
  ASSERT_GT(ForkServerPid(), 0) << "no fork server";
  ExpectNoLeakOver(Mode::kInProcess, 50, /*sidecar=*/true);
  ExpectNoLeakOver(Mode::kExec, 20, /*sidecar=*/true);
}

}  // namespace
}  // namespace fixture::reliability
