// FixturePool with real servers: MimicKv forked by the fork server
// (//fixture:gtest_main starts it) and example/kv_server exec'ed. What a
// test sees: a ready server no one touched, a replacement started behind it,
// every background failure reported with the server's name, pid and reason,
// every server reaped after Shutdown() (the census of the whole process is
// fixture_pool_leak_test's, in a process of its own). No timing is asserted (the
// figures are lifecycle_bench's); every wait has a deadline.
#include "fixture/fixture_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::reliability {
namespace {

using ::fixture::testing::AwaitExit;
using ::fixture::testing::CallsOf;
using ::fixture::testing::kGetMethod;
using ::fixture::testing::KvGet;
using ::testing::_;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Ne;

constexpr absl::Duration kTimeout = absl::Seconds(20);

class FixturePoolTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(SocketBase base, SocketBase::Create());
    base_ = std::make_unique<SocketBase>(std::move(base));
  }

  FixturePoolOptions PoolOptions(std::vector<std::string> args = {}, int size = 2) {
    FixturePoolOptions options;
    options.server = KvOptions(GetParam(), "kv", std::move(args));
    options.server.socket_dir = base_->path();
    options.size = size;
    return options;
  }

  // Waits until the pool holds `n` ready spares (each start has its own
  // ready_timeout; this is the bound on all of them).
  static bool AwaitReady(const FixturePool& pool, int n) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (pool.ready() < n) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

  std::unique_ptr<SocketBase> base_;
};

TEST_P(FixturePoolTest, AcquireHandsOverAReadyUntouchedServerAndStartsItsReplacement) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FixturePool> pool, FixturePool::Create(PoolOptions()));
  ASSERT_OK_AND_ASSIGN(PooledFixture a, pool->Acquire(kTimeout));
  ASSERT_OK_AND_ASSIGN(PooledFixture b, pool->Acquire(kTimeout));
  EXPECT_NE(a.fixture.pid(), b.fixture.pid());
  EXPECT_NE(a.fixture.name(), b.fixture.name());
  EXPECT_THAT(a.fixture.name(), HasSubstr("kv-"));
  EXPECT_THAT(a.fixture.status(), IsOkAndHolds(IsServing()));
  ASSERT_NE(a.channel, nullptr);
  ASSERT_NE(b.channel, nullptr);
  EXPECT_EQ(a.channel->GetState(false), GRPC_CHANNEL_READY) << "the warm channel is connected at hand-over";

  // Each server has its own state, and no test touched it before.
  ASSERT_OK(KvPut(a.channel, "who", "a"));
  EXPECT_THAT(KvGet(b.channel, "who"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(KvPut(b.channel, "who", "b"));
  EXPECT_THAT(KvGet(a.channel, "who"), IsOkAndHolds("a"));
  ASSERT_OK_AND_ASSIGN(v1::Status status, a.fixture.status());
  EXPECT_THAT(CallsOf(status, kGetMethod), ::testing::Optional(1));

  // Both replacements get started, and are fresh servers again.
  ASSERT_TRUE(AwaitReady(*pool, 2)) << "replacements not ready; started " << pool->started();
  EXPECT_EQ(pool->started(), 4);
  ASSERT_OK_AND_ASSIGN(PooledFixture c, pool->Acquire(kTimeout));
  EXPECT_THAT(c.fixture.pid(), AllOf(Ne(a.fixture.pid()), Ne(b.fixture.pid())));
  EXPECT_THAT(KvGet(c.channel, "who"), StatusIs(absl::StatusCode::kNotFound));

  const pid_t pid_a = a.fixture.pid();
  pool->Release(std::move(a.fixture));
  pool->Release(std::move(b.fixture));
  pool->Release(std::move(c.fixture));
  EXPECT_OK(pool->Shutdown());
  ExpectReapedEverywhere(pid_a);
  EXPECT_THAT(pool->Acquire(kTimeout), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("after Shutdown")));
}

TEST_P(FixturePoolTest, ASpareKilledInThePoolFailsTheNextAcquireWithItsPidAndSignal) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FixturePool> pool, FixturePool::Create(PoolOptions({}, /*size=*/1)));
  ASSERT_TRUE(AwaitReady(*pool, 1));
  // Learn the spare's pid by acquiring it, then release it; the next spare
  // is the one that gets killed while it waits.
  ASSERT_OK_AND_ASSIGN(PooledFixture first, pool->Acquire(kTimeout));
  const pid_t first_pid = first.fixture.pid();
  pool->Release(std::move(first.fixture));
  ASSERT_TRUE(AwaitReady(*pool, 1));
  // The only spare, which the pool hands over next: the one process below
  // this one that is neither the fork server nor the released server (still
  // on its way out, perhaps). Kill it where it waits.
  pid_t victim = -1;
  for (pid_t pid : DescendantsOf(getpid())) {
    if (pid != ForkServerPid() && pid != first_pid) victim = pid;
  }
  ASSERT_GT(victim, 0) << "no spare found below this process";
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_THAT(AwaitExit(victim, absl::Now() + kTimeout), IsOkAndHolds(true));

  absl::StatusOr<PooledFixture> dead = pool->Acquire(kTimeout);
  EXPECT_THAT(dead, StatusIs(absl::StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr("died while it waited in the pool"), HasSubstr(absl::StrCat(victim)),
                                   HasSubstr("SIGKILL"))));
  EXPECT_THAT(dead.status(), CarriesFailure(ProcessKilledBy(SIGKILL)));
  ExpectReapedEverywhere(victim);
  // The pool goes on: the replacement is a good server.
  ASSERT_OK_AND_ASSIGN(PooledFixture next, pool->Acquire(kTimeout));
  EXPECT_NE(next.fixture.pid(), victim);
  EXPECT_OK(KvPut(next.channel, "k", "v"));
  pool->Release(std::move(next.fixture));
  EXPECT_OK(pool->Shutdown());
}

TEST_P(FixturePoolTest, AServerThatCrashedBeforeItsReleaseFailsTheNextAcquireWithItsReason) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FixturePool> pool,
                       FixturePool::Create(PoolOptions({"--test_crash_on_key=boom"})));
  ASSERT_OK_AND_ASSIGN(PooledFixture kv, pool->Acquire(kTimeout));
  const pid_t pid = kv.fixture.pid();
  const std::string name = kv.fixture.name();
  EXPECT_FALSE(KvPut(kv.channel, "boom", "x").ok()) << "the server should have crashed on the key";
  ASSERT_THAT(AwaitExit(pid, absl::Now() + kTimeout), IsOkAndHolds(true));
  pool->Release(std::move(kv.fixture));

  // The stop happens in the background: the next Acquire after it reports it.
  absl::StatusOr<PooledFixture> next;
  const absl::Time deadline = absl::Now() + kTimeout;
  do {
    next = pool->Acquire(kTimeout);
    if (next.ok()) pool->Release(std::move(next->fixture));
  } while (next.ok() && absl::Now() < deadline);
  EXPECT_THAT(next, StatusIs(absl::StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr(name), HasSubstr(absl::StrCat("pid ", pid)),
                                   HasSubstr("did not stop cleanly after its release"), HasSubstr("SIGABRT"))));
  EXPECT_THAT(next.status(), CarriesFailure(ProcessKilledBy(SIGABRT)));
  ExpectReapedEverywhere(pid);
  // Reported once: the pool goes on, and its shutdown is clean.
  ASSERT_OK_AND_ASSIGN(PooledFixture good, pool->Acquire(kTimeout));
  pool->Release(std::move(good.fixture));
  EXPECT_OK(pool->Shutdown());
}

INSTANTIATE_TEST_SUITE_P(BothModes, FixturePoolTest, ::testing::Values(Mode::kInProcess, Mode::kExec),
                         [](const ::testing::TestParamInfo<Mode>& info) { return ModeName(info.param); });

// An unclean stop in the background (the control call stalls, SIGINT is
// ignored: SIGKILL ends it) fails Shutdown() with the server's reason.
TEST(FixturePoolStopTest, AnUncleanBackgroundStopFailsShutdownWithTheReason) {
  FixturePoolOptions options;
  options.server = KvOptions(Mode::kExec, "stubborn", {"--test_stall_control", "--test_ignore_sigint"});
  options.server.stop.steps = {
      StopStep::Control(absl::Milliseconds(200)),
      StopStep::Signal(SIGINT, absl::Milliseconds(200)),
      StopStep::Signal(SIGKILL, absl::Seconds(10)),
  };
  options.size = 1;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FixturePool> pool, FixturePool::Create(std::move(options)));
  ASSERT_OK_AND_ASSIGN(PooledFixture kv, pool->Acquire(kTimeout));
  const pid_t pid = kv.fixture.pid();
  pool->Release(std::move(kv.fixture));
  absl::Status shut = pool->Shutdown();
  // The released server and the spare both end by SIGKILL: the first is
  // returned, the other printed.
  EXPECT_THAT(shut, StatusIs(absl::StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr(absl::StrCat("pid ", pid)), HasSubstr("did not stop cleanly"),
                                   HasSubstr("SIGKILL"))));
  EXPECT_THAT(shut, CarriesFailure(ProcessKilledBy(SIGKILL)));
  ExpectReapedEverywhere(pid);
}

// A start in the background that fails (its log directory became a file)
// fails the next Acquire() with Start()'s error; no start is tried again
// until it is reported, and then the pool goes on.
TEST(FixturePoolStartTest, AFailedBackgroundStartFailsTheNextAcquireAndThePoolRecovers) {
  const char* tmpdir = getenv("TEST_TMPDIR");
  ASSERT_NE(tmpdir, nullptr) << "run under bazel test";
  const std::string logs = absl::StrCat(tmpdir, "/pool-logs");
  ASSERT_EQ(mkdir(logs.c_str(), 0755), 0) << strerror(errno);
  FixturePoolOptions options;
  options.server = KvOptions(Mode::kInProcess, "kv");
  options.server.log_dir = logs;
  options.size = 1;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FixturePool> pool, FixturePool::Create(std::move(options)));

  // Every later start fails: the log directory is a file now (the first
  // server's logs stay open, unlinked).
  for (const std::string& name : ListDir(logs)) ASSERT_EQ(unlink(absl::StrCat(logs, "/", name).c_str()), 0);
  ASSERT_EQ(rmdir(logs.c_str()), 0) << strerror(errno);
  ASSERT_EQ(close(open(logs.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);

  ASSERT_OK_AND_ASSIGN(PooledFixture first, pool->Acquire(kTimeout));  // Started before.
  EXPECT_EQ(first.fixture.name(), "kv-1");
  pool->Release(std::move(first.fixture));
  // The replacement, kv-2, fails to start; the pool tries no other meanwhile.
  const absl::Time deadline = absl::Now() + kTimeout;
  while ((pool->started() < 2 || pool->starting() > 0) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_EQ(pool->started(), 2) << "the failed start was tried again before it was reported";
  ASSERT_EQ(pool->starting(), 0);
  ASSERT_EQ(unlink(logs.c_str()), 0);
  ASSERT_EQ(mkdir(logs.c_str(), 0755), 0);

  EXPECT_THAT(pool->Acquire(kTimeout),
              StatusIs(_, AllOf(HasSubstr("FixturePool \"kv\""), HasSubstr("log_dir"), HasSubstr("Not a directory"))));
  // Reported: the pool starts again, and the next server is a good one.
  ASSERT_OK_AND_ASSIGN(PooledFixture next, pool->Acquire(kTimeout));
  EXPECT_EQ(next.fixture.name(), "kv-3");
  EXPECT_OK(KvPut(next.channel, "k", "v"));
  pool->Release(std::move(next.fixture));
  EXPECT_OK(pool->Shutdown());
}

TEST(FixturePoolOptionsTest, BadOptionsFailCreateWithInvalidArgumentNamingTheField) {
  FixturePoolOptions options;
  options.server = KvOptions(Mode::kInProcess, "kv");
  options.size = 0;
  EXPECT_THAT(FixturePool::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("FixturePoolOptions.size")));
  options.size = 1;
  options.connect_timeout = absl::ZeroDuration();
  EXPECT_THAT(FixturePool::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("FixturePoolOptions.connect_timeout")));
  options.connect_timeout = absl::Seconds(1);
  options.server.name = std::string(60, 'k');
  EXPECT_THAT(FixturePool::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("FixturePoolOptions.server.name")));
  // The server's own options: Start()'s error, naming the FixtureOptions field.
  options.server.name = "kv";
  options.server.ready_timeout = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<FixturePool>> bad = FixturePool::Create(options);
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ready_timeout")));
  EXPECT_THAT(bad.status(), CarriesFailure(ForField("ready_timeout")));
  options.server.ready_timeout = absl::Seconds(10);
  options.warm_endpoint = "nosuch";
  EXPECT_THAT(FixturePool::Create(options), StatusIs(absl::StatusCode::kNotFound, HasSubstr("warm_endpoint")));
}

// Fixture::StopAsync: the result is Stop()'s, delivered later.
TEST(FixtureStopAsyncTest, StopAsyncReturnsAtOnceAndDeliversTheStopResult) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(Mode::kInProcess, "async")));
  const pid_t pid = kv.pid();
  std::future<absl::StatusOr<StopResult>> stopping = kv.StopAsync();
  ASSERT_EQ(stopping.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  absl::StatusOr<StopResult> stopped = stopping.get();
  EXPECT_THAT(stopped, IsOkAndHolds(StoppedCleanly()));
  EXPECT_THAT(stopped, IsOkAndHolds(StoppedBy(StopStage::kControl)));
  ExpectReapedEverywhere(pid);
}

}  // namespace
}  // namespace fixture::reliability
