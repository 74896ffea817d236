// Start() refuses bad FixtureOptions and binaries it cannot run before it
// forks anything: InvalidArgument naming the field, NotFound or
// PermissionDenied for the binary; the field at fault is also in the error's
// fixture.v1.Failure (stage OPTIONS).
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Property;
using ::testing::StartsWith;

struct BadOption {
  std::string scenario;                        // The test name suffix.
  std::function<void(FixtureOptions&)> spoil;  // Makes valid kv_server options invalid.
  std::string field;                           // "FixtureOptions.<field>: ..."; Failure.field.
  std::string problem;                         // Part of the message after the field.
  v1::Failure::Cause cause = v1::Failure::BAD_OPTION;
};

void PrintTo(const BadOption& option, std::ostream* os) { *os << option.scenario; }

class FixtureBadOptionTest : public ::testing::TestWithParam<BadOption> {};

TEST_P(FixtureBadOptionTest, StartFailsWithInvalidArgumentNamingTheField) {
  FixtureOptions options = KvOptions();
  GetParam().spoil(options);

  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started, StatusIs(absl::StatusCode::kInvalidArgument,
                                AllOf(StartsWith(absl::StrCat("FixtureOptions.", GetParam().field, ": ")),
                                      HasSubstr(GetParam().problem))));
  EXPECT_THAT(started,
              CarriesFailure(AllOf(FailureAt(v1::Failure::OPTIONS, GetParam().cause), ForField(GetParam().field),
                                   Property(&v1::Failure::fixture, options.name), Property(&v1::Failure::pid, 0))));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
}

// Stop steps with one step changed.
StopPolicy StepsWith(size_t index, StopStep step) {
  StopPolicy policy;
  policy.steps[index] = step;
  return policy;
}

server::SetupFunction NoServices() {
  return [](server::ServerSetup&) { return absl::OkStatus(); };
}

INSTANTIATE_TEST_SUITE_P(
    EachField, FixtureBadOptionTest,
    ::testing::Values(
        BadOption{"EmptyName", [](FixtureOptions& o) { o.name = ""; }, "name", "must be 1-64 characters"},
        BadOption{"NameWithSlash", [](FixtureOptions& o) { o.name = "kv/1"; }, "name", "\"kv/1\" has '/'"},
        BadOption{"NameOf65Characters", [](FixtureOptions& o) { o.name = std::string(65, 'k'); }, "name",
                  "must be 1-64 characters"},
        BadOption{"UnsetProgram", [](FixtureOptions& o) { o.program = std::monostate(); }, "program",
                  "not set; name what the fixture runs: fixture::Binary{\"pkg/server\"}"},
        BadOption{"EmptyBinaryPath", [](FixtureOptions& o) { o.program = Binary{""}; }, "program",
                  "Binary.path is empty"},
        BadOption{"EmptyRegisteredName", [](FixtureOptions& o) { o.program = Registered{""}; }, "program",
                  "Registered.name is empty"},
        BadOption{"PlainForkWithoutSetup", [](FixtureOptions& o) { o.program = PlainFork{nullptr}; }, "program",
                  "PlainFork.setup is empty"},
        // Checked before anything forks: this process may well have threads.
        BadOption{"PlainForkWithArgs",
                  [](FixtureOptions& o) {
                    o.program = PlainFork{NoServices()};
                    o.args = {"--flag"};
                  },
                  "args", "a PlainFork takes no args"},
        BadOption{"ZeroReadyTimeout", [](FixtureOptions& o) { o.ready_timeout = absl::ZeroDuration(); },
                  "ready_timeout", "must be positive, got 0"},
        BadOption{"NegativeRpcTimeout", [](FixtureOptions& o) { o.rpc_timeout = absl::Seconds(-1); }, "rpc_timeout",
                  "must be positive, got -1s"},
        BadOption{"NegativeStopGrace", [](FixtureOptions& o) { o.stop.grace = absl::Milliseconds(-1); }, "stop.grace",
                  "must be between 0 and 1h, got -1ms"},
        BadOption{"NegativeStopDrain", [](FixtureOptions& o) { o.stop.drain = absl::Seconds(-1); }, "stop.drain",
                  "must be between 0 and 1h, got -1s"},
        BadOption{"StopDrainOver1h", [](FixtureOptions& o) { o.stop.drain = absl::Hours(2); }, "stop.drain",
                  "must be between 0 and 1h, got 2h"},
        BadOption{"StopControlTimeoutOver1h",
                  [](FixtureOptions& o) { o.stop = StepsWith(0, StopStep::Control(absl::Hours(2))); },
                  "stop.steps[0].timeout", "must be between 0 and 1h, got 2h"},
        BadOption{"NegativeSigintTimeout",
                  [](FixtureOptions& o) { o.stop = StepsWith(1, StopStep::Signal(SIGINT, absl::Seconds(-3))); },
                  "stop.steps[1].timeout", "got -3s"},
        BadOption{"InfiniteSigkillTimeout",
                  [](FixtureOptions& o) { o.stop = StepsWith(2, StopStep::Signal(SIGKILL, absl::InfiniteDuration())); },
                  "stop.steps[2].timeout", "must be between 0 and 1h"},
        BadOption{"NoStopSteps", [](FixtureOptions& o) { o.stop.steps.clear(); }, "stop.steps",
                  "the last step must be StopStep::Signal(SIGKILL, ...)"},
        BadOption{"LastStopStepNotSigkill", [](FixtureOptions& o) { o.stop.steps.pop_back(); }, "stop.steps",
                  "the last step must be StopStep::Signal(SIGKILL, ...)"},
        BadOption{"StopStepWithSignal0",
                  [](FixtureOptions& o) { o.stop = StepsWith(1, StopStep::Signal(0, absl::Seconds(1))); },
                  "stop.steps[1].signal", "no such signal: 0"},
        BadOption{"ControlShutdownAfterASignal",
                  [](FixtureOptions& o) {
                    o.stop.steps = {StopStep::Signal(SIGINT, absl::Seconds(1)), StopStep::Control(),
                                    StopStep::Signal(SIGKILL, absl::Seconds(1))};
                  },
                  "stop.steps[1]", "a control Shutdown can only be the first step"},
        BadOption{"EnvKeyWithEquals", [](FixtureOptions& o) { o.env.emplace_back("A=B", "c"); }, "env",
                  "bad variable name \"A=B\""},
        BadOption{"EmptyEnvKey", [](FixtureOptions& o) { o.env.emplace_back("", "c"); }, "env",
                  "bad variable name \"\""},
        BadOption{"EnvSettingTheControlAddress",
                  [](FixtureOptions& o) { o.env.emplace_back("FIXTURE_CONTROL_ADDRESS", "unix:/x"); }, "env",
                  "FIXTURE_CONTROL_ADDRESS is set by the fixture itself"},
        BadOption{"EnvSettingTheReadyFd", [](FixtureOptions& o) { o.env.emplace_back("FIXTURE_READY_FD", "3"); }, "env",
                  "FIXTURE_READY_FD is set by the fixture itself"},
        BadOption{"EnvSettingTheName", [](FixtureOptions& o) { o.env.emplace_back("FIXTURE_NAME", "x"); }, "env",
                  "FIXTURE_NAME is set by the fixture itself"},
        BadOption{"NegativeStderrTailLines", [](FixtureOptions& o) { o.stderr_tail_lines = -1; }, "stderr_tail_lines",
                  "must not be negative"},
        // No system call failed: a bad option, not a system error.
        BadOption{"SocketDirTooLongForAUnixSocket",
                  [](FixtureOptions& o) { o.socket_dir = "/tmp/" + std::string(100, 'd'); }, "socket_dir",
                  "would exceed 107 bytes", v1::Failure::BAD_OPTION}),
    [](const ::testing::TestParamInfo<BadOption>& info) { return info.param.scenario; });

// The Failure of a program that cannot be run: stage OPTIONS, cause
// NOT_FOUND, field "program", no process.
::testing::Matcher<const v1::Failure&> ProgramNotFound() {
  return AllOf(FailureAt(v1::Failure::OPTIONS, v1::Failure::NOT_FOUND), ForField("program"),
               Property(&v1::Failure::pid, 0));
}

TEST(FixtureBinaryTest, MissingBinaryIsNotFoundNamingTheOptionAndWhereItLooked) {
  FixtureOptions options = KvOptions();
  options.program = Binary{"server/no_such_server"};

  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started,
              StatusIs(absl::StatusCode::kNotFound, AllOf(StartsWith("FixtureOptions.program: "),
                                                          HasSubstr("no executable \"server/no_such_server\""),
                                                          HasSubstr("add the binary to the target's `data`"))));
  EXPECT_THAT(started, CarriesFailure(ProgramNotFound()));
}

TEST(FixtureBinaryTest, MissingAbsoluteBinaryIsNotFound) {
  FixtureOptions options = KvOptions();
  options.program = Binary{"/nonexistent/kv_server"};

  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started, StatusIs(absl::StatusCode::kNotFound,
                                AllOf(StartsWith("FixtureOptions.program: "), HasSubstr("/nonexistent/kv_server"))));
  EXPECT_THAT(started, CarriesFailure(ProgramNotFound()));
}

TEST(FixtureBinaryTest, FileWithoutExecuteBitIsPermissionDenied) {
  const char* tmpdir = getenv("TEST_TMPDIR");
  ASSERT_NE(tmpdir, nullptr) << "run under bazel test";
  const std::string path = absl::StrCat(tmpdir, "/not_executable.sh");
  {
    std::ofstream script(path);
    script << "#!/bin/sh\nexit 0\n";
  }
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  FixtureOptions options = KvOptions();
  options.program = Binary{path};

  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started, StatusIs(absl::StatusCode::kPermissionDenied,
                                AllOf(StartsWith("FixtureOptions.program: "), HasSubstr(path + " is not executable"))));
  EXPECT_THAT(started, CarriesFailure(ProgramNotFound()));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
}

}  // namespace
}  // namespace fixture::testing
