// ReleaseWithin (fixture/bounded_release.h): objects whose teardown ends are
// released on its thread and it says OK; a teardown that does not end within
// the timeout is left to its thread (DeadlineExceeded), and finishes there
// once it can. The stalled teardown here is a deleter that waits for the
// test's word, as gRPC's waits for a thread that never started.
#include "fixture/bounded_release.h"

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixture {
namespace {

using ::fixture::testing::IsOk;
using ::fixture::testing::StatusIs;

TEST(ReleaseWithinTest, ReleasesOnAnotherThreadAndSaysOk) {
  std::thread::id released_on;
  auto objects = std::shared_ptr<void>(new int(42), [&released_on](void* p) {
    released_on = std::this_thread::get_id();
    delete static_cast<int*>(p);
  });
  EXPECT_THAT(ReleaseWithin(std::move(objects), absl::Seconds(30)), IsOk());
  EXPECT_NE(released_on, std::thread::id()) << "not released";
  EXPECT_NE(released_on, std::this_thread::get_id()) << "released on the caller's thread";
}

TEST(ReleaseWithinTest, NothingToReleaseIsOk) { EXPECT_THAT(ReleaseWithin(nullptr, absl::Seconds(1)), IsOk()); }

TEST(ReleaseWithinTest, TeardownThatDoesNotEndIsLeftToItsThread) {
  // Shared with the deleter, which runs on after this test returns.
  auto go_on = std::make_shared<absl::Notification>();
  auto finished = std::make_shared<absl::Notification>();
  auto objects = std::shared_ptr<void>(new int(7), [go_on, finished](void* p) {
    go_on->WaitForNotification();
    delete static_cast<int*>(p);
    finished->Notify();
  });
  EXPECT_THAT(ReleaseWithin(std::move(objects), absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::HasSubstr("did not end within 50ms")));
  EXPECT_FALSE(finished->HasBeenNotified());
  go_on->Notify();
  EXPECT_TRUE(finished->WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "the teardown did not finish on its thread";
}

}  // namespace
}  // namespace fixture
