// `fixturectl run`'s pure parts: variable names, the exit status of a
// failed start picked from the Failure payload and the status code (never
// from the message), the advice for an exhausted limit. The whole command
// runs in tests/shell.
#include "fixture/tools/fixturectl_run.h"

#include "absl/status/status.h"
#include "fixture/launch/environment.h"
#include "fixture/launch/failure.h"
#include "fixture/proto/failure.pb.h"
#include "fixture/tools/fixturectl_exit_codes.h"
#include "fixture/tools/fixturectl_limits.h"
#include "gtest/gtest.h"

namespace fixturectl {
namespace {

using fixture::v1::Failure;

TEST(VariableNamePartTest, UpperCasesAndReplacesOtherCharacters) {
  EXPECT_EQ(fixture::VariableNamePart("kv-server.1"), "KV_SERVER_1");
  EXPECT_EQ(fixture::VariableNamePart("grpc"), "GRPC");
  EXPECT_EQ(fixture::VariableNamePart("a_b"), "A_B");
  EXPECT_EQ(fixture::EndpointVariable("kv-1", "grpc"), "FIXTURE_KV_1_GRPC");
}

absl::Status WithBadOption(absl::Status status, const char* field, Failure::Cause cause) {
  return fixture::WithFailure(std::move(status), fixture::BadOption("kv", field, cause));
}

TEST(StartFailureExitCodeTest, MissingOrNotExecutableProgramIs66) {
  EXPECT_EQ(StartFailureExitCode(WithBadOption(absl::NotFoundError("x"), "program", Failure::NOT_FOUND)),
            kExitNoServerBinary);
  EXPECT_EQ(StartFailureExitCode(WithBadOption(absl::PermissionDeniedError("x"), "program", Failure::NOT_FOUND)),
            kExitNoServerBinary);
}

TEST(StartFailureExitCodeTest, TheMessageDoesNotCount) {
  // The old prefix test would have taken this for a missing binary.
  EXPECT_EQ(StartFailureExitCode(absl::NotFoundError("FixtureOptions.program: no executable")), kExitServerFailed);
  // Another option's system error (an unwritable --log_dir) is no missing binary.
  EXPECT_EQ(StartFailureExitCode(WithBadOption(absl::PermissionDeniedError("x"), "log_dir", Failure::SYSTEM)),
            kExitServerFailed);
}

TEST(StartFailureExitCodeTest, BadOptionTimeoutAndTheRest) {
  EXPECT_EQ(StartFailureExitCode(WithBadOption(absl::InvalidArgumentError("x"), "name", Failure::BAD_OPTION)),
            kExitUsage);
  EXPECT_EQ(StartFailureExitCode(absl::DeadlineExceededError("not ready")), kExitTimeout);
  EXPECT_EQ(StartFailureExitCode(absl::FailedPreconditionError("died")), kExitServerFailed);
}

TEST(ResourceAdviceTest, NamesTheErrnoAndWhatToDo) {
  std::string emfile = ResourceAdvice("fixture \"kv\": cannot start x: pipe2(readiness pipe): Too many open files");
  EXPECT_NE(emfile.find("(EMFILE)"), std::string::npos) << emfile;
  EXPECT_NE(emfile.find("ulimit -n"), std::string::npos) << emfile;
  std::string eagain = ResourceAdvice("fork(): Resource temporarily unavailable");
  EXPECT_NE(eagain.find("(EAGAIN)"), std::string::npos) << eagain;
  EXPECT_NE(eagain.find("ulimit -u"), std::string::npos) << eagain;
  EXPECT_NE(ResourceAdvice("Too many open files in system").find("(ENFILE)"), std::string::npos);
  EXPECT_EQ(ResourceAdvice("execve(x): Exec format error"), "");
}

TEST(DescriptorsNeededTest, GrowsWithTheServers) {
  EXPECT_EQ(DescriptorsNeeded(1), kDescriptorsBase + kDescriptorsPerServer);
  EXPECT_LT(DescriptorsNeeded(1), DescriptorsNeeded(2));
  EXPECT_TRUE(CheckDescriptors(DescriptorsNeeded(1), "this test").ok());  // Under Bazel's limits.
}

}  // namespace
}  // namespace fixturectl
