// Start() when the child does not become ready: it crashes, exits, hangs, is
// not a fixture server at all, or cannot be executed. Each failure names the
// process, what happened, the stage and the child's stderr, and leaves no
// process, zombie or socket directory behind.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/cleanup/cleanup.h"
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
using ::testing::Not;

// A failed start leaves nothing behind: the child is reaped and the private
// socket directory named in the message is gone.
void ExpectNothingLeftBehind(const absl::Status& failure) {
  pid_t pid = PidInMessage(failure.message());
  ASSERT_GT(pid, 0) << "no \"server pid N\" in: " << failure;
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
  std::string socket = ControlSocketInMessage(failure.message());
  ASSERT_THAT(socket, HasSubstr("/fixture-")) << "no \"control socket: unix:...\" in: " << failure;
  EXPECT_FALSE(PathExists(DirName(socket))) << DirName(socket) << " is left behind";
}

TEST(FixtureStartFailuresTest, CrashBeforeReadyFailsStartAtOnceWithSignalAndStderr) {
  FixtureOptions options = KvOptions("kv", {"--test_crash_before_ready"});
  options.ready_timeout = absl::Seconds(60);  // A failure well before this is the child's own.
  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    AllOf(HasSubstr("fixture \"kv\": server pid "), HasSubstr("example/kv_server"),
                                          HasSubstr("killed by signal 6 (SIGABRT"), HasSubstr("before it was ready"),
                                          HasSubstr("stage: start"),
                                          HasSubstr("kv_server: crashing before ready as "
                                                    "--test_crash_before_ready asks"))));
  ExpectNothingLeftBehind(kv.status());
}

TEST(FixtureStartFailuresTest, ExitBeforeReadyFailsStartWithTheExitStatusAndStderr) {
  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions("kv", {"--test_exit_before_ready=7"}));

  EXPECT_THAT(kv.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("exited with status 7 before it was ready"), HasSubstr("stage: start"),
                             HasSubstr("kv_server: exiting with status 7 before ready"))));
  ExpectNothingLeftBehind(kv.status());
}

TEST(FixtureStartFailuresTest, PortAlreadyInUseFailsStartWithExitStatus1AndTheServerMessage) {
  // A real listener holds the port the server is told to use.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0) << strerror(errno);
  absl::Cleanup close_listener = [listener] { close(listener); };
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<struct sockaddr*>(&address), sizeof address), 0) << strerror(errno);
  ASSERT_EQ(listen(listener, 1), 0) << strerror(errno);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<struct sockaddr*>(&address), &length), 0) << strerror(errno);
  const std::string taken = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions("kv", {absl::StrCat("--address=", taken)}));

  EXPECT_THAT(kv.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    AllOf(HasSubstr("exited with status 1 before it was ready"),
                                          HasSubstr(absl::StrCat("endpoint \"grpc\" cannot listen on ", taken)))));
  ExpectNothingLeftBehind(kv.status());
}

TEST(FixtureStartFailuresTest, ReadyDeadlinePassingFailsStartWithDeadlineExceededAndKillsTheChild) {
  FixtureOptions options = KvOptions("kv", {"--test_hang_before_ready"});
  options.ready_timeout = absl::Milliseconds(500);
  absl::StatusOr<Fixture> kv = Fixture::Start(options);

  EXPECT_THAT(kv.status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("was not ready within ready_timeout 500ms"), HasSubstr("killed it with SIGKILL"),
                             HasSubstr("stage: start"), HasSubstr("raise FixtureOptions.ready_timeout"))));
  ExpectNothingLeftBehind(kv.status());
}

TEST(FixtureStartFailuresTest, BinaryThatIsNotAServerAndExits0FailsStart) {
  FixtureOptions options = KvOptions("true");
  options.program = fixture::Binary{"/bin/true"};
  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         AllOf(HasSubstr("(/bin/true) exited with status 0 before it was ready"),
                                               HasSubstr("stage: start"))));
  ExpectNothingLeftBehind(started.status());
}

TEST(FixtureStartFailuresTest, BinaryThatIsNotAServerAndExits1FailsStart) {
  FixtureOptions options = KvOptions("false");
  options.program = fixture::Binary{"/bin/false"};
  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         AllOf(HasSubstr("(/bin/false) exited with status 1 before it was ready"),
                                               HasSubstr("stage: start"))));
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
  options.program = fixture::Binary{path};
  absl::StatusOr<Fixture> started = Fixture::Start(options);

  EXPECT_THAT(started.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         AllOf(HasSubstr(absl::StrCat("could not be executed: execve(", path, ")")),
                                               HasSubstr("Exec format error"), HasSubstr("stage: start"),
                                               Not(HasSubstr("before it was ready")))));
  ExpectNothingLeftBehind(started.status());
}

}  // namespace
}  // namespace fixture::testing
