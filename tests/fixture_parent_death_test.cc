// When the test process dies, even by SIGKILL, its fixture servers stop too.
//
// The dying "test" is this binary exec'ed again in the role of a parent
// (FIXTURE_TEST_ROLE=parent, in the spirit of a death test): a fresh process
// that starts a kv fixture, reports the server's pid and control address on
// stdout and then waits for EOF on stdin. The test SIGKILLs it and watches the
// server through a pidfd. The role is a fresh exec because forking without
// exec from a process that has used gRPC is unsafe.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/forked_child.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/socket_path.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/role_process.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::IsEmpty;
using ::testing::Property;

constexpr char kParentRole[] = "parent";

// The parent role: start kv_server, print "<pid> <control address>\n", wait
// for EOF on stdin (the test went away or is done), stop it.
int RunAsParent() {
  absl::StatusOr<Fixture> kv = Fixture::Start(KvOptions("orphan"));
  if (!kv.ok()) {
    fprintf(stdout, "error %s\n", std::string(kv.status().ToString()).c_str());
    fflush(stdout);
    return 1;
  }
  fprintf(stdout, "%d %s\n", kv->pid(), kv->control_address().c_str());
  fflush(stdout);
  for (;;) {
    char byte;
    ssize_t n = read(STDIN_FILENO, &byte, 1);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  return kv->Stop().ok() ? 0 : 1;
}

TEST(FixtureParentDeathTest, SigkilledParentTakesItsServerDownWithinOneSecond) {
  // Orphans of our children become our children, so that the server can be
  // reaped here (and its exit status checked) once its parent is gone.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0) << strerror(errno);

  ASSERT_OK_AND_ASSIGN(RoleProcess helper, SpawnRole(kParentRole));
  bool helper_reaped = false;
  absl::Cleanup end_helper = [&] {
    if (!helper_reaped) KillAndReap(helper.pid).IgnoreError();
  };

  ASSERT_OK_AND_ASSIGN(std::string line, ReadLine(helper.from_stdout.get(), absl::Now() + absl::Seconds(30)));
  std::vector<std::string> words = absl::StrSplit(line, ' ');
  ASSERT_EQ(words.size(), 2u) << "the parent role said: " << line;
  pid_t server = -1;
  ASSERT_TRUE(absl::SimpleAtoi(words[0], &server)) << "the parent role said: " << line;
  const std::string socket_path = UnixSocketPath(words[1]);
  ASSERT_TRUE(ReadProc(server).has_value()) << "server pid " << server << " is not running";
  EXPECT_EQ(ReadProc(server)->ppid, helper.pid);
  EXPECT_TRUE(PathExists(socket_path)) << socket_path;
  bool server_reaped = false;
  absl::Cleanup end_server = [&] {
    if (!server_reaped) KillAndReap(server).IgnoreError();
  };

  ASSERT_EQ(kill(helper.pid, SIGKILL), 0) << strerror(errno);
  const absl::Time killed = absl::Now();
  ::testing::AssertionResult server_exited = ExitsBy(server, killed + absl::Seconds(1));
  printf("server exit seen %s after the parent's SIGKILL\n", absl::FormatDuration(absl::Now() - killed).c_str());

  absl::StatusOr<ExitInfo> helper_end = WaitForRole(helper);
  helper_reaped = true;
  EXPECT_THAT(helper_end, IsOkAndHolds(Property(&ExitInfo::ToString, "killed by signal 9 (SIGKILL)")));

  EXPECT_TRUE(server_exited) << "1s after its parent was SIGKILLed";

  // Reparented to us (the subreaper): reap it and see how it ended. The
  // parent-death signal is SIGTERM, which the server takes as a graceful stop.
  ASSERT_OK_AND_ASSIGN(ExitInfo server_end, Reap(server));
  server_reaped = true;
  EXPECT_EQ(server_end.ToString(), "exited with status 0");
  EXPECT_EQ(kParentDeathSignal, SIGTERM);
  // Nothing is left behind even though the parent could not clean up: the
  // server removed its socket and the (otherwise empty) private directory.
  EXPECT_FALSE(PathExists(socket_path)) << socket_path << " is left behind";
  EXPECT_FALSE(PathExists(DirName(socket_path))) << DirName(socket_path) << " is left behind";
  EXPECT_TRUE(IsReaped(server));
  EXPECT_THAT(ZombieChildren(), IsEmpty());
}

}  // namespace
}  // namespace fixture::testing

int main(int argc, char** argv) {
  // Decide the role before anything else runs: the parent role must not run
  // the test framework.
  if (const char* role = fixture::testing::RoleOfThisProcess();
      role != nullptr && std::string(role) == fixture::testing::kParentRole) {
    return fixture::testing::RunAsParent();
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
