// Start() when the child does not become ready: it crashes, exits, hangs, is
// not a fixture server at all, or cannot be executed. Each failure names the
// process, what happened, the stage and the child's stderr, carries the same
// facts in its fixture.v1.Failure, and leaves no process, zombie or socket
// directory behind.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/socket_path.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Property;

TEST(FixtureStartFailuresTest, CrashBeforeReadyFailsStartAtOnceWithSignalAndStderr) {
  FixtureOptions options = KvOptions("kv", {"--test_crash_before_ready"});
  options.ready_timeout = absl::Seconds(60);  // A failure well before this is the child's own.
  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr("fixture \"kv\": server pid "), HasSubstr("example/kv_server"),
                                 HasSubstr("killed by signal 6 (SIGABRT"), HasSubstr("before it was ready"),
                                 HasSubstr("stage: start"),
                                 HasSubstr("kv_server: crashing before ready as "
                                           "--test_crash_before_ready asks"))));
  EXPECT_THAT(kv,
              CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessKilledBy(SIGABRT),
                                   Property(&v1::Failure::fixture, "kv"),
                                   Property(&v1::Failure::program, EndsWith("example/kv_server")),
                                   Property(&v1::Failure::stderr_tail, HasSubstr("kv_server: crashing before ready as "
                                                                                 "--test_crash_before_ready asks")))));
  ExpectNothingLeftBehind(kv.status());
}

TEST(FixtureStartFailuresTest, ExitBeforeReadyFailsStartWithTheExitStatusAndStderr) {
  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions("kv", {"--test_exit_before_ready=7"}));

  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr("exited with status 7 before it was ready"), HasSubstr("stage: start"),
                                 HasSubstr("kv_server: exiting with status 7 before ready"))));
  EXPECT_THAT(kv, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(7),
                                       Property(&v1::Failure::stderr_tail,
                                                HasSubstr("kv_server: exiting with status 7 before ready")))));
  ExpectNothingLeftBehind(kv.status());
}

TEST(FixtureStartFailuresTest, PortAlreadyInUseFailsStartWithExitStatus1AndTheServerMessage) {
  // A real listener holds the port the server is told to use.
  ASSERT_OK_AND_ASSIGN(UniqueFd listener, ListenOnLoopback());
  const std::string taken = absl::StrCat("127.0.0.1:", PortOf(listener.get()));

  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions("kv", {absl::StrCat("--address=", taken)}));

  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr("exited with status 1 before it was ready"),
                                 HasSubstr(absl::StrCat("endpoint \"grpc\" cannot listen on ", taken)))));
  EXPECT_THAT(kv, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1))));
  ExpectNothingLeftBehind(kv.status());
}

TEST(FixtureStartFailuresTest, ReadyDeadlinePassingFailsStartWithDeadlineExceededAndKillsTheChild) {
  FixtureOptions options = KvOptions("kv", {"--test_hang_before_ready"});
  options.ready_timeout = absl::Milliseconds(500);
  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv,
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("was not ready within ready_timeout 500ms"), HasSubstr("killed it with SIGKILL"),
                             HasSubstr("stage: start"), HasSubstr("raise FixtureOptions.ready_timeout"))));
  EXPECT_THAT(kv, CarriesFailure(FailureAt(v1::Failure::START, v1::Failure::TIMED_OUT)));
  ExpectNothingLeftBehind(kv.status());
}

TEST(FixtureStartFailuresTest, BinaryThatIsNotAServerAndExits0FailsStart) {
  FixtureOptions options = KvOptions("true");
  options.program = Binary{"/bin/true"};
  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started, StatusIs(absl::StatusCode::kFailedPrecondition,
                                AllOf(HasSubstr("(/bin/true) exited with status 0 before it was ready"),
                                      HasSubstr("stage: start"))));
  EXPECT_THAT(started, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(0),
                                            Property(&v1::Failure::program, "/bin/true"))));
  ExpectNothingLeftBehind(started.status());
}

TEST(FixtureStartFailuresTest, BinaryThatIsNotAServerAndExits1FailsStart) {
  FixtureOptions options = KvOptions("false");
  options.program = Binary{"/bin/false"};
  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started, StatusIs(absl::StatusCode::kFailedPrecondition,
                                AllOf(HasSubstr("(/bin/false) exited with status 1 before it was ready"),
                                      HasSubstr("stage: start"))));
  EXPECT_THAT(started, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1),
                                            Property(&v1::Failure::program, "/bin/false"))));
  ExpectNothingLeftBehind(started.status());
}

TEST(FixtureStartFailuresTest, ExecutableFileInAnUnknownFormatFailsStartWithTheExecError) {
  const char* tmpdir = getenv("TEST_TMPDIR");
  ASSERT_NE(tmpdir, nullptr) << "run under bazel test";
  std::string path = absl::StrCat(tmpdir, "/not_a_program");
  {
    std::ofstream out(path);
    out << "this is neither ELF nor a #! script\n";
  }
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  FixtureOptions options = KvOptions("garbage");
  options.program = Binary{path};
  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started, StatusIs(absl::StatusCode::kFailedPrecondition,
                                AllOf(HasSubstr(absl::StrCat("could not be executed: execve(", path, ")")),
                                      HasSubstr("Exec format error"), HasSubstr("stage: start"),
                                      Not(HasSubstr("before it was ready")))));
  EXPECT_THAT(started, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXEC_FAILED),
                                            Property(&v1::Failure::errno_value, ENOEXEC))));
  ExpectNothingLeftBehind(started.status());
}

}  // namespace
}  // namespace fixture::testing
