// A server that never becomes ready, by each strategy: the start fails with
// DeadlineExceeded naming the strategy and what it last saw (the last
// STATUS=, the last log lines, the last connect error, HTTP status, exit
// status or health status), and the server is killed. And the options a
// foreign server cannot have.
#include <signal.h>

#include <string>
#include <vector>

#include "fixture/fixture.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixture {
namespace {

using ::fixture::testing::CarriesFailure;
using ::fixture::testing::FailureAt;
using ::fixture::testing::ForField;
using ::fixture::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kPython[] = "/usr/bin/python3";

// Sends `message` to NOTIFY_SOCKET, then waits to be killed.
constexpr char kNotifyThenHang[] = R"(
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(sys.argv[1].encode(), os.environ["NOTIFY_SOCKET"])
time.sleep(60)
)";

struct NeverReady {
  std::string test_name;
  std::string strategy;
  std::vector<std::string> argv;  // argv[0] is the binary
  Readiness ready;
  std::string last_seen;  // what the error must quote
};

class NeverReadyTest : public ::testing::TestWithParam<NeverReady> {};

TEST_P(NeverReadyTest, FailsWithDeadlineExceededNamingTheStrategyAndWhatItLastSaw) {
  const NeverReady& param = GetParam();
  FixtureOptions options;
  options.name = "late";
  options.program = Binary{param.argv[0]};
  options.args.assign(param.argv.begin() + 1, param.argv.end());
  options.ports = {"p"};
  options.ready = param.ready;
  options.ready_timeout = absl::Seconds(1);
  EXPECT_THAT(Fixture::Start(options),
              AllOf(StatusIs(absl::StatusCode::kDeadlineExceeded,
                             AllOf(HasSubstr(absl::StrCat("was not ready by ", param.strategy, " readiness")),
                                   HasSubstr(param.last_seen), HasSubstr("killed it"))),
                    CarriesFailure(FailureAt(v1::Failure::START, v1::Failure::TIMED_OUT))));
}

INSTANTIATE_TEST_SUITE_P(
    EachStrategy, NeverReadyTest,
    ::testing::Values(NeverReady{"SdNotifyStatusOnly",
                                 "sd_notify",
                                 {kPython, "-c", kNotifyThenHang, "STATUS=warming the cache"},
                                 ReadyBySdNotify{},
                                 "warming the cache"},
                      NeverReady{"LogWithoutTheLine",
                                 "log",
                                 {"/bin/sh", "-c", "echo still loading; exec sleep 60"},
                                 ReadyByLog{"accepting connections"},
                                 "still loading"},
                      NeverReady{
                          "TcpNobodyListens", "tcp", {"/bin/sleep", "60"}, ReadyByTcp{"p"}, "Connection refused"},
                      NeverReady{"HttpNotFound",
                                 "http",
                                 {kPython, "-m", "http.server", "--bind", "127.0.0.1", "{port:p}"},
                                 ReadyByHttp{"p", "/no-such-page"},
                                 "404"},
                      NeverReady{"ExecFails",
                                 "exec",
                                 {"/bin/sleep", "60"},
                                 ReadyByExec{{"/bin/sh", "-c", "exit 3"}},
                                 "exited with status 3"},
                      NeverReady{"HealthNotServing",
                                 "grpc_health",
                                 {"tests/any_server/health_server", "{port:p}", "-1"},
                                 ReadyByGrpcHealth{"p", ""},
                                 "NOT_SERVING"}),
    [](const ::testing::TestParamInfo<NeverReady>& info) { return info.param.test_name; });

TEST(SdNotifyTest, AServerThatReportsAnErrnoBeforeReadyFailsAtOnceWithIt) {
  FixtureOptions options;
  options.name = "broken";
  options.program = Binary{kPython};
  options.args = {"-c", kNotifyThenHang, "STATUS=cannot open the data file\nERRNO=13"};
  options.ready = ReadyBySdNotify{};
  options.ready_timeout = absl::Seconds(30);  // It must not take this long.
  EXPECT_THAT(Fixture::Start(options),
              AllOf(StatusIs(absl::StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr("said it failed before it was ready"), HasSubstr("Permission denied"))),
                    CarriesFailure(FailureAt(v1::Failure::START, v1::Failure::REPORTED))));
}

FixtureOptions Foreign() {
  FixtureOptions options;
  options.program = Binary{"/bin/sleep"};
  options.args = {"60"};
  options.ready = ReadyByTcp{"p"};
  options.ports = {"p"};
  return options;
}

TEST(ForeignOptionsTest, EachMistakeNamesItsField) {
  FixtureOptions registered = Foreign();
  registered.program = Registered{"InMemoryKv"};
  EXPECT_THAT(Fixture::Start(registered), CarriesFailure(ForField("ready")));

  FixtureOptions launch = Foreign();
  launch.ready = ReadyByLaunch{};
  launch.stop_signal = SIGTERM;
  EXPECT_THAT(Fixture::Start(launch), CarriesFailure(ForField("stop_signal")));

  FixtureOptions unknown_port = Foreign();
  unknown_port.args = {"--port={port:nope}"};
  EXPECT_THAT(Fixture::Start(unknown_port), AllOf(StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nope")),
                                                  CarriesFailure(ForField("args[0]"))));

  FixtureOptions reserved = Foreign();
  reserved.ports = {"control"};
  EXPECT_THAT(Fixture::Start(reserved), CarriesFailure(ForField("ports[0]")));

  FixtureOptions twice = Foreign();
  twice.ports = {"p", "p"};
  EXPECT_THAT(Fixture::Start(twice), CarriesFailure(ForField("ports[1]")));

  FixtureOptions bad_regex = Foreign();
  bad_regex.ready = ReadyByLog{"(unclosed"};
  EXPECT_THAT(Fixture::Start(bad_regex),
              AllOf(StatusIs(absl::StatusCode::kInvalidArgument), CarriesFailure(ForField("ready"))));
}

}  // namespace
}  // namespace fixture
