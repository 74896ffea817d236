// FixturePool leaves nothing behind: after a pool has handed out, released
// and refilled servers and is shut down, this process holds what it held
// before (tests/reliability's census: descriptors, threads, children of this
// process and of the fork server, socket directories, process groups,
// directory locks, gRPC). In a process of its own, so that no other test's
// leftovers count.
#include <stdio.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture_pool.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "grpc/grpc.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::reliability {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(20);

class FixturePoolLeakTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(SocketBase base, SocketBase::Create());
    base_ = std::make_unique<SocketBase>(std::move(base));
  }

  FixturePoolOptions PoolOptions(int size) {
    FixturePoolOptions options;
    options.server = KvOptions(GetParam(), "kv");
    options.server.socket_dir = base_->path();
    options.size = size;
    return options;
  }

  // Waits until the pool holds `n` ready spares and stops nothing.
  static bool AwaitIdle(const FixturePool& pool, int n) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (pool.ready() < n || pool.stopping() > 0) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

  std::unique_ptr<SocketBase> base_;
};

TEST_P(FixturePoolLeakTest, ShutdownStopsEverythingAndLeavesTheCensusAsItWas) {
  // Warm up what lives as long as the process (the fork thread, gRPC's
  // first use) outside the census.
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<FixturePool> pool, FixturePool::Create(PoolOptions(2)));
    ASSERT_OK_AND_ASSIGN(PooledFixture kv, pool->Acquire(kTimeout));
    ASSERT_OK(KvPut(kv.channel, "k", "v"));
    pool->Release(std::move(kv.fixture));
    ASSERT_OK(pool->Shutdown());
  }
  const Census before = TakeCensus(base_->path());
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<FixturePool> pool, FixturePool::Create(PoolOptions(3)));
    std::vector<pid_t> pids;
    for (int i = 0; i < 5; ++i) {
      ASSERT_OK_AND_ASSIGN(PooledFixture kv, pool->Acquire(kTimeout));
      pids.push_back(kv.fixture.pid());
      ASSERT_OK(KvPut(kv.channel, "k", absl::StrCat(i)));
      pool->Release(std::move(kv.fixture));
    }
    ASSERT_TRUE(AwaitIdle(*pool, 3));
    EXPECT_OK(pool->Shutdown());
    EXPECT_EQ(pool->ready(), 0);
    for (pid_t pid : pids) ExpectReapedEverywhere(pid);
  }
  // The last channel's teardown ends gRPC on one of gRPC's own threads, a
  // moment after the channel is dropped (later under ASan): wait for it.
  const absl::Time grpc_deadline = absl::Now() + kTimeout;
  while (grpc_is_initialized() && absl::Now() < grpc_deadline) absl::SleepFor(absl::Milliseconds(1));
  const Census after = TakeCensus(base_->path());
  printf("census before: %s\ncensus after:  %s\n", before.ToString().c_str(), after.ToString().c_str());
  EXPECT_FALSE(after.grpc_initialized) << "a gRPC object (a warm channel) outlived the pool";
  EXPECT_EQ(after.open_fds, before.open_fds) << "descriptors leaked";
  EXPECT_EQ(after.threads, before.threads) << "threads leaked";
  EXPECT_EQ(after.children, before.children) << "children of this process left";
  EXPECT_EQ(after.fork_server_children, before.fork_server_children) << "children of the fork server left";
  EXPECT_EQ(after.socket_dirs, before.socket_dirs) << "socket directories left";
  EXPECT_EQ(after.process_groups, before.process_groups) << "processes left";
  EXPECT_EQ(after.dir_locks, before.dir_locks) << "private directories still held";
}

INSTANTIATE_TEST_SUITE_P(BothModes, FixturePoolLeakTest, ::testing::Values(Mode::kInProcess, Mode::kExec),
                         [](const ::testing::TestParamInfo<Mode>& info) { return ModeName(info.param); });

}  // namespace
}  // namespace fixture::reliability
