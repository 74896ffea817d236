// One server shared by many tests (fixture/shared_fixture.h), on real
// example/kv_server and example/attached_server processes: a GoogleTest suite
// whose tests each find the store empty and nothing counted, on one process,
// in any order and any shard; and, step by step, what happens when a test
// leaves the server dead, stopped or impossible to reset: that test is told,
// and the next one gets a fresh process.
#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/shared_fixture.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Ne;
using ::testing::Optional;

constexpr char kAttachedServer[] = "example/attached_server";

// The suite: each test starts from what a fresh server shows, and leaves
// data and counts behind for the reset to undo.
class SharedKvTest : public SharedServerTest<SharedKvTest> {
 public:
  static FixtureOptions ServerOptions() { return KvOptions("kv"); }

  // Its own, as a suite may have: calls SharedServerTest's. Each run of the
  // suite (--gtest_repeat) gets its own server.
  static void SetUpTestSuite() {
    SharedServerTest::SetUpTestSuite();
    suite_pid_ = 0;
  }

 protected:
  // Checks that the server is the suite's one process and looks fresh, then
  // dirties it.
  void UseAsIfFresh() {
    if (suite_pid_ == 0) suite_pid_ = server().pid();
    EXPECT_EQ(server().pid(), suite_pid_);
    EXPECT_EQ(shared().starts(), 1);
    EXPECT_THAT(server().status(), AllOf(IsServing(), CalledTimes(kPutMethod, 0), CalledTimes(kGetMethod, 0)));
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, server().channel());
    EXPECT_THAT(KvGet(channel, "k"), StatusIs(absl::StatusCode::kNotFound));
    ASSERT_OK(KvPut(channel, "k", "left by the previous test"));
  }

  static inline pid_t suite_pid_ = 0;
};

TEST_F(SharedKvTest, FirstFindsItFresh) { UseAsIfFresh(); }
TEST_F(SharedKvTest, SecondFindsItFresh) { UseAsIfFresh(); }
TEST_F(SharedKvTest, ThirdFindsItFresh) { UseAsIfFresh(); }

TEST(SharedFixtureTest, ATestThatKillsTheServerIsToldAndTheNextGetsAFreshOne) {
  SharedFixture shared(KvOptions("kv"));
  ASSERT_OK_AND_ASSIGN(Fixture * server, shared.BeforeTest());
  const pid_t killed = server->pid();
  ASSERT_OK(server->Kill(SIGKILL));
  ASSERT_OK(server->WaitForExit(absl::Seconds(10)).status());

  EXPECT_THAT(shared.AfterTest(),
              AllOf(StatusIs(absl::StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr(absl::StrCat("the test left shared server kv (pid ", killed, ") dead")),
                                   HasSubstr("killed by signal 9"), HasSubstr("the next test gets a fresh server"))),
                    CarriesFailure(ProcessKilledBy(SIGKILL))));
  ASSERT_OK_AND_ASSIGN(server, shared.BeforeTest());
  EXPECT_THAT(server->pid(), Ne(killed));
  EXPECT_THAT(server->status(), IsServing());
  EXPECT_EQ(shared.starts(), 2);
  EXPECT_THAT(shared.AfterTest(), IsOk());
  EXPECT_THAT(shared.Stop(), IsOkAndHolds(Optional(StoppedCleanly())));
  EXPECT_THAT(shared.Stop(), IsOkAndHolds(Eq(std::nullopt)));
}

TEST(SharedFixtureTest, ATestThatStopsTheServerIsToldAndTheNextGetsAFreshOne) {
  SharedFixture shared(KvOptions("kv"));
  ASSERT_OK_AND_ASSIGN(Fixture * server, shared.BeforeTest());
  EXPECT_THAT(server->Stop(), StoppedCleanly());

  EXPECT_THAT(shared.AfterTest(),
              StatusIs(absl::StatusCode::kFailedPrecondition, AllOf(HasSubstr("dead"), HasSubstr("was stopped"))));
  ASSERT_OK_AND_ASSIGN(server, shared.BeforeTest());
  EXPECT_THAT(server->status(), IsServing());
  EXPECT_EQ(shared.starts(), 2);
}

TEST(SharedFixtureTest, AServerWithoutAResetHookCannotBeResetAndIsReplaced) {
  FixtureOptions options;
  options.name = "attached";
  options.program = Binary{kAttachedServer};
  SharedFixture shared(options);
  ASSERT_OK_AND_ASSIGN(Fixture * server, shared.BeforeTest());
  const pid_t first = server->pid();

  EXPECT_THAT(shared.AfterTest(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                           AllOf(HasSubstr("in a state Reset could not undo"),
                                                 HasSubstr("register one with ServerSetup::OnReset"))));
  ASSERT_OK_AND_ASSIGN(server, shared.BeforeTest());
  EXPECT_THAT(server->pid(), Ne(first));
}

TEST(SharedFixtureTest, WithoutResetTheServerIsOnlyCheckedAndKeepsItsData) {
  FixtureOptions options;
  options.name = "attached";
  options.program = Binary{kAttachedServer};
  SharedFixture shared(options, /*reset=*/false);
  ASSERT_OK_AND_ASSIGN(Fixture * server, shared.BeforeTest());
  const pid_t first = server->pid();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, server->channel());
  ASSERT_OK(KvPut(channel, "k", "v"));
  EXPECT_THAT(shared.AfterTest(), IsOk());

  ASSERT_OK_AND_ASSIGN(server, shared.BeforeTest());
  EXPECT_EQ(server->pid(), first);
  EXPECT_THAT(KvGet(channel, "k"), IsOkAndHolds("v"));
  EXPECT_EQ(shared.starts(), 1);
}

}  // namespace
}  // namespace fixture::testing
