// Start() refuses bad FixtureOptions and binaries it cannot run before it
// forks anything: InvalidArgument naming the field, NotFound or
// PermissionDenied for the binary.
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

struct BadOption {
  std::string scenario;                        // The test name suffix.
  std::function<void(FixtureOptions&)> spoil;  // Makes valid kv_server options invalid.
  std::string field;                           // "FixtureOptions.<field>: ..."
  std::string problem;                         // Part of the message after the field.
};

void PrintTo(const BadOption& option, std::ostream* os) { *os << option.scenario; }

class FixtureBadOptionTest : public ::testing::TestWithParam<BadOption> {};

TEST_P(FixtureBadOptionTest, StartFailsWithInvalidArgumentNamingTheField) {
  FixtureOptions options = KvOptions();
  GetParam().spoil(options);

  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                         AllOf(StartsWith(absl::StrCat("FixtureOptions.", GetParam().field, ": ")),
                                               HasSubstr(GetParam().problem))));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    EachField, FixtureBadOptionTest,
    ::testing::Values(
        BadOption{"EmptyName", [](FixtureOptions& o) { o.name = ""; }, "name", "must be 1-64 characters"},
        BadOption{"NameWithSlash", [](FixtureOptions& o) { o.name = "kv/1"; }, "name", "\"kv/1\" has '/'"},
        BadOption{"NameOf65Characters", [](FixtureOptions& o) { o.name = std::string(65, 'k'); }, "name",
                  "must be 1-64 characters"},
        BadOption{"EmptyBinary", [](FixtureOptions& o) { o.program = fixture::Binary{""}; }, "binary",
                  "set exactly one of binary, server and plain_fork (0 are set)"},
        BadOption{"BinaryAndRegisteredServer", [](FixtureOptions& o) { o.program = fixture::Registered{"Kv"}; }, "binary",
                  "set exactly one of binary, server and plain_fork (2 are set)"},
        BadOption{"ZeroReadyTimeout", [](FixtureOptions& o) { o.ready_timeout = absl::ZeroDuration(); },
                  "ready_timeout", "must be positive, got 0"},
        BadOption{"NegativeRpcTimeout", [](FixtureOptions& o) { o.rpc_timeout = absl::Seconds(-1); }, "rpc_timeout",
                  "must be positive, got -1s"},
        BadOption{"NegativeStopGrace", [](FixtureOptions& o) { o.stop.grace = absl::Milliseconds(-1); }, "stop.grace",
                  "must be between 0 and 1h, got -1ms"},
        BadOption{"StopControlTimeoutOver1h", [](FixtureOptions& o) { o.stop.control_timeout = absl::Hours(2); },
                  "stop.control_timeout", "must be between 0 and 1h, got 2h"},
        BadOption{"NegativeSigintTimeout", [](FixtureOptions& o) { o.stop.sigint_timeout = absl::Seconds(-3); },
                  "stop.sigint_timeout", "got -3s"},
        BadOption{"InfiniteSigkillTimeout",
                  [](FixtureOptions& o) { o.stop.sigkill_timeout = absl::InfiniteDuration(); }, "stop.sigkill_timeout",
                  "must be between 0 and 1h"},
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
        BadOption{"SocketDirTooLongForAUnixSocket",
                  [](FixtureOptions& o) { o.socket_dir = "/tmp/" + std::string(100, 'd'); }, "socket_dir",
                  "would exceed 107 bytes"}),
    [](const ::testing::TestParamInfo<BadOption>& info) { return info.param.scenario; });

TEST(FixtureBinaryTest, MissingBinaryIsNotFoundNamingTheOptionAndWhereItLooked) {
  FixtureOptions options = KvOptions();
  options.program = fixture::Binary{"server/no_such_server"};

  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started.status(),
              StatusIs(absl::StatusCode::kNotFound, AllOf(StartsWith("FixtureOptions.binary: "),
                                                          HasSubstr("no executable \"server/no_such_server\""),
                                                          HasSubstr("add the binary to the target's `data`"))));
}

TEST(FixtureBinaryTest, MissingAbsoluteBinaryIsNotFound) {
  FixtureOptions options = KvOptions();
  options.program = fixture::Binary{"/nonexistent/kv_server"};

  EXPECT_THAT(Fixture::Start(options).status(),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(StartsWith("FixtureOptions.binary: "), HasSubstr("/nonexistent/kv_server"))));
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
  options.program = fixture::Binary{path};

  EXPECT_THAT(Fixture::Start(options).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(StartsWith("FixtureOptions.binary: "), HasSubstr(path + " is not executable"))));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
}

}  // namespace
}  // namespace fixture::testing
