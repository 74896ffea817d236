// Children that break the launch protocol (proto/launch.proto) in ways the
// server/ library never does, staged by launch_protocol_child.py:
//
//  - a ReadyNotice frame cut short by the child's exit is DATA_LOSS (cause
//    PROTOCOL) at once, not a wait for ready_timeout; also while a sidecar
//    the child forked holds the readiness pipe open (no EOF comes: the
//    child's pidfd ends the wait), and the sidecar is killed with the group;
//  - a valid ReadyNotice from a child whose control socket does not accept
//    connections (none there, or bound but not listening) is not "ready":
//    FAILED_PRECONDITION (cause PROTOCOL), and the child is killed and reaped.
#include <signal.h>
#include <string.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/proto/failure.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::reliability {
namespace {

using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Lt;
using ::testing::Property;

constexpr char kChild[] = "tests/reliability/launch_protocol_child.py";

FixtureOptions ChildOptions(std::string name, std::string mode) {
  FixtureOptions options;
  options.name = std::move(name);
  options.program = Binary{kChild};
  options.args = {std::move(mode)};
  // Each failure here is the child's doing, long before this.
  options.ready_timeout = absl::Seconds(20);
  return options;
}

// Well before ready_timeout: the failure came at the child's doing.
::testing::Matcher<const v1::Failure&> AtOnce() {
  return Property(&v1::Failure::since_fork, Property(&google::protobuf::Duration::seconds, Lt(5)));
}

TEST(LaunchProtocolTest, ReadyNoticeFrameCutShortByTheChildsExitIsDataLossAtOnce) {
  absl::StatusOr<Fixture> child = Fixture::Start(ChildOptions("truncated", "truncated"));

  EXPECT_THAT(child, StatusIs(absl::StatusCode::kDataLoss,
                              AllOf(HasSubstr("launch_protocol_child.py) broke the launch protocol"),
                                    HasSubstr("inside a frame"), HasSubstr("after 8 bytes"), HasSubstr("stage: start"),
                                    HasSubstr("wrote 8 of a 15-byte frame"))));
  EXPECT_THAT(child, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::PROTOCOL), AtOnce(),
                                          Property(&v1::Failure::program, EndsWith(kChild)))));
  ExpectNothingLeftOf(child.status());
}

TEST(LaunchProtocolTest, ReadyNoticeFrameCutShortWhileASidecarHoldsThePipeIsDataLossAtOnceAndTheSidecarIsKilled) {
  Subreaper subreaper;  // The sidecar is reparented here when the child exits.
  ASSERT_TRUE(subreaper.ok()) << "PR_SET_CHILD_SUBREAPER";

  absl::StatusOr<Fixture> child = Fixture::Start(ChildOptions("truncated", "truncated_sidecar"));

  // No EOF on the pipe (the sidecar holds it): the child's exit ends the wait.
  EXPECT_THAT(
      child, StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr("broke the launch protocol"),
                                                         HasSubstr("the child exited inside a frame, after 8 bytes"))));
  EXPECT_THAT(child, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::PROTOCOL), AtOnce())));
  ExpectNothingLeftOf(child.status());

  std::optional<v1::Failure> failure = FailureOf(child.status());
  ASSERT_TRUE(failure.has_value());
  const std::string& tail = failure->stderr_tail();
  size_t at = tail.find("sidecar_pid=");
  ASSERT_NE(at, std::string::npos) << tail;
  pid_t sidecar;
  ASSERT_TRUE(absl::SimpleAtoi(tail.substr(at + 12, tail.find('\n', at) - at - 12), &sidecar)) << tail;
  UniqueFd sidecar_fd = OpenPidfd(sidecar);  // Ours, a zombie or on its way: its pid is not reused.
  ASSERT_TRUE(sidecar_fd) << "pidfd_open(" << sidecar << "): " << strerror(errno);
  ASSERT_OK_AND_ASSIGN(ExitInfo sidecar_end,
                       AwaitAndReapOrphan(sidecar_fd.get(), sidecar, absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(sidecar_end.ToString(), "killed by signal 9 (SIGKILL)");
}

struct NoControl {
  const char* mode;
  const char* connect_error;  // What connect(2) said.
};

class ReadyWithoutControlTest : public ::testing::TestWithParam<NoControl> {};

TEST_P(ReadyWithoutControlTest, ReadyNoticeWithoutAControlSocketThatAcceptsFailsStartAndTheChildIsKilled) {
  absl::StatusOr<Fixture> child = Fixture::Start(ChildOptions("liar", GetParam().mode));

  EXPECT_THAT(
      child,
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("reported ready, but its control socket does not accept connections"),
                     HasSubstr(GetParam().connect_error), HasSubstr("killed it"), HasSubstr("stage: start"),
                     HasSubstr("reported ready without serving"),
                     HasSubstr("serve FixtureControl on FIXTURE_CONTROL_ADDRESS before writing the ReadyNotice"))));
  EXPECT_THAT(child, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::PROTOCOL), AtOnce())));
  // It sleeps for 300 s otherwise: killed, reaped, its directory gone.
  ExpectNothingLeftOf(child.status());
}

INSTANTIATE_TEST_SUITE_P(Sockets, ReadyWithoutControlTest,
                         ::testing::Values(NoControl{"ready_no_control", "No such file or directory"},
                                           NoControl{"ready_not_listening", "Connection refused"}),
                         [](const ::testing::TestParamInfo<NoControl>& info) {
                           return std::string(info.param.mode) == "ready_no_control" ? "NoSocket"
                                                                                     : "BoundButNotListening";
                         });

}  // namespace
}  // namespace fixture::reliability
