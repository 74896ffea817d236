// fixture::Fixture starting a Python grpcio server (kv_server_py, a py_binary
// on //tools/python:fixture_server) as it starts any server binary: ready by
// the ReadyNotice, a real KeyValue round trip through the C++ stub, call
// counts in GetStatus, a clean stop by control Shutdown and by SIGTERM, the
// stop's grace for a call in flight, and a server that raises before it is
// ready reported at once with its traceback.
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/proto/control.pb.h"
#include "fixture/proto/failure.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control_calls.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr char kKvServerPy[] = "tests/python/kv_server_py";

FixtureOptions PyOptions(std::vector<std::string> args = {}) {
  FixtureOptions options;
  options.name = "kvpy";
  options.program = Binary{kKvServerPy};
  options.args = std::move(args);
  return options;
}

// Where the /proc/<pid>/exe link of a process points; "" if unreadable.
std::string ExeOf(pid_t pid) {
  char target[PATH_MAX];
  ssize_t n = readlink(absl::StrCat("/proc/", pid, "/exe").c_str(), target, sizeof(target) - 1);
  return n < 0 ? "" : std::string(target, n);
}

std::string RealPath(const char* path) {
  char resolved[PATH_MAX];
  return realpath(path, resolved) == nullptr ? "" : resolved;
}

// Waits until GetStatus counts `calls` calls of `method`, or `timeout` ends
// (each GetStatus answers at once: the count is the server's own).
::testing::AssertionResult CountsWithin(Fixture& kv, absl::string_view method, int64_t calls, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::Status> status;
  do {
    status = kv.status();
    if (status.ok() && CallsOf(*status, method).value_or(0) >= calls) return ::testing::AssertionSuccess();
  } while (status.ok() && absl::Now() < deadline);
  return ::testing::AssertionFailure() << method << " not counted " << calls << " times within " << timeout << ": "
                                       << (status.ok() ? status->DebugString() : status.status().ToString());
}

// How main() of kv_server_py waits: the three shapes the module supports.
class PythonServerTest : public ::testing::TestWithParam<std::vector<std::string>> {};

INSTANTIATE_TEST_SUITE_P(MainShapes, PythonServerTest,
                         ::testing::Values(std::vector<std::string>{"--wait=attached"},
                                           std::vector<std::string>{"--wait=server"},
                                           std::vector<std::string>{"--one_call", "--wait=server"}));

TEST_P(PythonServerTest, ReadyRoundTripCountsAndCleanStop) {
  std::vector<std::string> args = GetParam();
  args.push_back("--label=lang=python");
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(PyOptions(args)));
  const pid_t pid = kv.pid();
  printf("ready %s after fork\n", absl::FormatDuration(kv.timeline().fork_to_ready()).c_str());

  // The ReadyNotice's pid is the Python interpreter itself: the py_binary
  // launcher exec'ed /usr/bin/python3 in place, so it leads the process
  // group the fixture made for it.
  EXPECT_EQ(ExeOf(pid), RealPath("/usr/bin/python3"));
  EXPECT_EQ(getpgid(pid), pid);

  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel("grpc"));
  ASSERT_OK(KvPut(channel, "py/a", "1"));
  ASSERT_OK(KvPut(channel, "py/b", "2"));
  EXPECT_THAT(KvGet(channel, "py/a"), IsOkAndHolds("1"));
  EXPECT_THAT(KvGet(channel, "py/none"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("py/none")));

  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_THAT(status, IsServing());
  EXPECT_EQ(status.pid(), pid);
  EXPECT_EQ(status.name(), "kvpy");
  EXPECT_EQ(status.labels().at("lang"), "python");
  ASSERT_EQ(status.endpoints_size(), 1);
  EXPECT_EQ(status.endpoints(0).name(), "grpc");
  EXPECT_GT(status.endpoints(0).port(), 0);
  EXPECT_EQ(status.endpoints(0).address(), *kv.endpoint("grpc"));
  EXPECT_GT(status.start_time().seconds(), 0);
  EXPECT_THAT(CallsOf(status, kPutMethod), Optional(2));
  EXPECT_THAT(CallsOf(status, kGetMethod), Optional(2));
  // Only the service under test is counted, and in method order.
  ASSERT_EQ(status.method_calls_size(), 2);
  EXPECT_EQ(status.method_calls(0).method(), kGetMethod);

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedCleanly());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));
  EXPECT_EQ(stopped.exit.pid, pid);
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_EQ(kill(-pid, 0), -1) << "process group " << pid << " is not empty";
  EXPECT_FALSE(PathExists(SocketDirOf(kv.control_address())));
}

TEST(PythonServerStopTest, SigtermStopsItCleanly) {
  FixtureOptions options = PyOptions();
  options.stop.steps = {StopStep::Signal(SIGTERM, absl::Seconds(5)), StopStep::Signal(SIGKILL, absl::Seconds(10))};
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  const pid_t pid = kv.pid();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "k", "v"));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedBySignal(SIGTERM));
  EXPECT_THAT(stopped, StoppedCleanly());
  EXPECT_FALSE(stopped.exit.signaled) << stopped.ToString();
  // The module's own handling, as server/'s: logged, then exit 0.
  EXPECT_THAT(kv.StderrTail(), HasSubstr("\"kvpy\" [" + std::to_string(pid) + "]: SIGTERM received: stopping"));
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_FALSE(PathExists(SocketDirOf(kv.control_address())));
}

// The parent sends a stop signal to the server and then to its group, and a
// later step's signal can come while the server exits: Python resets its
// handlers to SIG_DFL while it finalizes, so the module ignores them once its
// stop is done. SIGTERM again and again, until it has exited: still exit 0.
TEST(PythonServerStopTest, StopSignalsDuringTheExitDoNotKillIt) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(PyOptions()));
  const pid_t pid = kv.pid();
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  int sent = 0;
  do {
    ASSERT_LT(absl::Now(), deadline) << "still running after " << sent << " SIGTERMs";
    if (kill(pid, SIGTERM) == 0) ++sent;
  } while (!AwaitExit(pid, absl::Now() + absl::Milliseconds(2)).value_or(false));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("after %d SIGTERMs: %s\n", sent, stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kAlreadyExited));
  EXPECT_TRUE(stopped.exit.success()) << stopped.ToString();
  EXPECT_FALSE(PathExists(SocketDirOf(kv.control_address())));
}

// A Get that takes 500 ms is in flight when the stop begins.
struct InFlightGet {
  explicit InFlightGet(Fixture& kv) {
    channel = *kv.channel();
    EXPECT_OK(KvPut(channel, "slow", "value"));
    thread = std::thread([this] { result = KvGet(channel, "slow"); });
    // Counted on arrival, and in flight from then on.
    EXPECT_TRUE(CountsWithin(kv, kGetMethod, 1, absl::Seconds(10)));
  }
  absl::StatusOr<std::string> Join() {
    thread.join();
    return result;
  }
  std::shared_ptr<grpc::Channel> channel;
  std::thread thread;
  absl::StatusOr<std::string> result;
};

TEST(PythonServerStopTest, ACallInFlightFinishesWithinTheGrace) {
  FixtureOptions options = PyOptions({"--test_delay_get=0.5"});
  options.stop.grace = absl::Seconds(5);
  options.stop.steps[0] = StopStep::Control(absl::Seconds(10));
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  InFlightGet get(kv);

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(get.Join(), IsOkAndHolds("value"));
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));
  EXPECT_THAT(stopped, StoppedCleanly());
}

TEST(PythonServerStopTest, ACallInFlightIsCancelledAtTheEndOfTheGrace) {
  FixtureOptions options = PyOptions({"--test_delay_get=0.5"});
  options.stop.grace = absl::ZeroDuration();
  // The call is cancelled at once, but its handler sleeps on: Python joins
  // the server's worker threads at exit, so the process ends after it.
  options.stop.steps[0] = StopStep::Control(absl::Seconds(10));
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  InFlightGet get(kv);

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("stop: %s\n", stopped.ToString().c_str());
  EXPECT_THAT(get.Join(), StatusIs(AnyOf(absl::StatusCode::kCancelled, absl::StatusCode::kUnavailable)));
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));
  EXPECT_THAT(stopped, StoppedCleanly());
}

TEST(PythonServerStartTest, RaisingBeforeReadyIsReportedAtOnceWithTheTraceback) {
  FixtureOptions options = PyOptions({"--test_raise_before_ready"});
  // Far longer than the test's own timeout: only EOF on the pipe can end the wait.
  options.ready_timeout = absl::Minutes(10);
  absl::StatusOr<Fixture> kv = Fixture::Start(options);
  EXPECT_THAT(kv,
              AllOf(StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("exited with status 1 before it "
                                                                              "was ready")),
                    CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1)))));
  EXPECT_THAT(kv.status().message(),
              AllOf(HasSubstr("Traceback (most recent call last)"),
                    HasSubstr("RuntimeError: kv_server_py: raising before ready as --test_raise_before_ready asks")));
}

// Faults and Reset are the C++ server library's: the Python server answers
// them UNIMPLEMENTED, and goes on serving.
TEST(PythonServerControlTest, FaultsAndResetAreUnimplemented) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(PyOptions()));
  ControlCalls control(kv);
  EXPECT_THAT(control.InjectFault(v1::FaultSpec()), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(control.Reset(), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(kv.status(), IsServing());
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

}  // namespace
}  // namespace fixture::testing
