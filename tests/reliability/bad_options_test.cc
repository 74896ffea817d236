// Bad FixtureOptions and bad server arguments: each start fails with a clear
// error, and nothing is started or left behind. A census of this process
// (open descriptors, threads, children of this process and of the fork
// server, socket directories) is the same before and after each failure.
//
// The failures reach different depths of Start(): option validation, the
// binary lookup, the socket directory, the log files (after the socket
// directory exists), the fork server's lookup, the plain-fork safety check,
// and a child that exits on its bad arguments. The InvalidArgument message of
// every option field is covered in tests/fixture_options_test.cc; here the
// point is what each depth leaves behind.
#include <fcntl.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/proto/failure.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::reliability {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

struct BadStart {
  std::string scenario;
  // Spoils options that would start a server; `scratch` is a directory the
  // case may use.
  std::function<void(FixtureOptions&, const std::string& scratch)> spoil;
  Mode mode = Mode::kExec;
  absl::StatusCode code;
  // Substrings of the message; "$SCRATCH" stands for the scratch directory.
  std::vector<std::string> message;
  // What its fixture.v1.Failure says; nullopt for an error that carries none.
  std::optional<::testing::Matcher<const v1::Failure&>> failure;
};

// The Failure of a bad option: stage OPTIONS, `cause`, the field at fault.
::testing::Matcher<const v1::Failure&> BadOptionFailure(absl::string_view field, v1::Failure::Cause cause) {
  return AllOf(FailureAt(v1::Failure::OPTIONS, cause), ForField(field));
}

void PrintTo(const BadStart& c, std::ostream* os) { *os << c.scenario; }

std::vector<BadStart> BadStarts() {
  return {
      {"NameWithASlash",
       [](FixtureOptions& o, const std::string&) { o.name = "a/b"; },
       Mode::kExec,
       absl::StatusCode::kInvalidArgument,
       {"FixtureOptions.name: \"a/b\" has '/'"},
       BadOptionFailure("name", v1::Failure::BAD_OPTION)},
      {"ProgramNotSet",
       [](FixtureOptions& o, const std::string&) { o.program = std::monostate(); },
       Mode::kExec,
       absl::StatusCode::kInvalidArgument,
       {"FixtureOptions.program: not set"},
       BadOptionFailure("program", v1::Failure::BAD_OPTION)},
      {"MissingBinary",
       [](FixtureOptions& o, const std::string&) { o.program = Binary{"server/no_such_server"}; },
       Mode::kExec,
       absl::StatusCode::kNotFound,
       {"FixtureOptions.program: ", "no executable \"server/no_such_server\""},
       BadOptionFailure("program", v1::Failure::NOT_FOUND)},
      {"SocketDirThatDoesNotExist",
       [](FixtureOptions& o, const std::string& scratch) { o.socket_dir = scratch + "/missing"; },
       Mode::kExec,
       absl::StatusCode::kNotFound,
       {"FixtureOptions.socket_dir: mkdtemp($SCRATCH/missing/fixture-", "): No such file or directory"},
       BadOptionFailure("socket_dir", v1::Failure::SYSTEM)},
      {"SocketDirThatIsAFile",
       [](FixtureOptions& o, const std::string& scratch) { o.socket_dir = scratch + "/a_file"; },
       Mode::kExec,
       absl::StatusCode::kFailedPrecondition,
       {"FixtureOptions.socket_dir: mkdtemp($SCRATCH/a_file/fixture-", "): Not a directory"},
       BadOptionFailure("socket_dir", v1::Failure::SYSTEM)},
      // Fails after the socket directory was made: it must be removed again.
      {"LogDirThatDoesNotExist",
       [](FixtureOptions& o, const std::string& scratch) { o.log_dir = scratch + "/no_logs_here"; },
       Mode::kExec,
       absl::StatusCode::kNotFound,
       {"FixtureOptions.log_dir: open($SCRATCH/no_logs_here/kv.stdout.log): No such file or directory"},
       BadOptionFailure("log_dir", v1::Failure::SYSTEM)},
      {"UnregisteredInProcessServer",
       [](FixtureOptions& o, const std::string&) { o.program = Registered{"NoSuchServer"}; },
       Mode::kInProcess,
       absl::StatusCode::kNotFound,
       {"fixture \"kv\": cannot start FIXTURE_SERVER(NoSuchServer): ", "no FIXTURE_SERVER(NoSuchServer)", "MimicKv"},
       BadOptionFailure("program", v1::Failure::NOT_FOUND)},
      // Refused before any fork, for no option's fault.
      {"PlainForkInAProcessThatUsedGrpc",
       [](FixtureOptions& o, const std::string&) {
         o.program = PlainFork{[](server::ServerSetup&) { return absl::OkStatus(); }};
       },
       Mode::kInProcess,
       absl::StatusCode::kFailedPrecondition,
       {"refusing to fork without exec", "FIXTURE_SERVER"},
       FailureAt(v1::Failure::START, v1::Failure::REFUSED)},
      // The child starts, rejects its arguments and exits before it is ready.
      {"UnknownFlagForTheServerBinary",
       [](FixtureOptions& o, const std::string&) { o.args = {"--bogus"}; },
       Mode::kExec,
       absl::StatusCode::kFailedPrecondition,
       {"exited with status 1 before it was ready", "stage: start", "Unknown command line flag 'bogus'"},
       AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1))},
      {"UnknownFlagForTheInProcessServer",
       [](FixtureOptions& o, const std::string&) { o.args = {"--bogus"}; },
       Mode::kInProcess,
       absl::StatusCode::kFailedPrecondition,
       {"(FIXTURE_SERVER(MimicKv)) exited with status 1 before it was ready", "stage: start",
        "setup failed: INVALID_ARGUMENT: MimicKv: unknown flag --bogus"},
       AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1))},
  };
}

class BadStartTest : public ::testing::TestWithParam<BadStart> {
 protected:
  static void SetUpTestSuite() {
    ASSERT_OK_AND_ASSIGN(SocketBase base, SocketBase::Create());
    base_ = new SocketBase(std::move(base));
    // Warm-up: whatever gRPC and the fixture library set up once per process
    // (threads, the fork thread, descriptors) exists before the first census.
    for (Mode mode : {Mode::kExec, Mode::kInProcess}) {
      FixtureOptions options = KvOptions(mode, "warmup");
      options.socket_dir = base_->path();
      ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
      ASSERT_THAT(kv.status(), IsServing());
      ASSERT_THAT(kv.Stop(), StoppedCleanly());
    }
  }
  static void TearDownTestSuite() {
    delete base_;
    base_ = nullptr;
  }

  static SocketBase* base_;
};
SocketBase* BadStartTest::base_ = nullptr;

std::string Substitute(std::string text, const std::string& scratch) {
  size_t at = text.find("$SCRATCH");
  if (at != std::string::npos) text.replace(at, 8, scratch);
  return text;
}

TEST_P(BadStartTest, FailsWithAClearErrorAndLeavesNothingBehind) {
  ASSERT_NE(base_, nullptr);
  // Short enough for socket paths (TEST_TMPDIR is not, under Bazel).
  const std::string scratch = base_->path();
  ASSERT_TRUE(UniqueFd(open((scratch + "/a_file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)).valid());
  FixtureOptions options = KvOptions(GetParam().mode, "kv");
  options.socket_dir = base_->path();
  GetParam().spoil(options, scratch);

  const Census before = TakeCensus(base_->path());
  absl::StatusOr<Fixture> started = Fixture::Start(options);
  const Census after = TakeCensus(base_->path());

  ASSERT_FALSE(started.ok()) << "started pid " << started->pid();
  EXPECT_THAT(started, StatusIs(GetParam().code));
  for (const std::string& part : GetParam().message) {
    EXPECT_THAT(started, StatusIs(::testing::_, HasSubstr(Substitute(part, scratch))));
  }
  if (GetParam().failure.has_value()) {
    EXPECT_THAT(started,
                CarriesFailure(AllOf(*GetParam().failure, ::testing::Property(&v1::Failure::fixture, options.name))));
  }
  EXPECT_EQ(after.ToString(), before.ToString());
}

INSTANTIATE_TEST_SUITE_P(EachDepth, BadStartTest, ::testing::ValuesIn(BadStarts()),
                         [](const ::testing::TestParamInfo<BadStart>& info) { return info.param.scenario; });

}  // namespace
}  // namespace fixture::reliability
