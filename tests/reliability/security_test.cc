// The control socket is the test user's alone: its private directory is 0700
// and the socket itself 0600, both owned by the user, in both launch modes.
// Run as root, the test proves it the hard way: a forked child that drops to
// an unprivileged user cannot connect(2) to the socket (EACCES), while the
// same child that stays root can.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/socket_path.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::reliability {
namespace {

// The user a child drops to: "nobody" on Debian.
constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

class ControlSocketPermissionsTest : public ::testing::TestWithParam<Mode> {};

TEST_P(ControlSocketPermissionsTest, DirectoryIs0700AndSocketIs0600BothOwnedByTheTestUser) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(GetParam(), "private")));
  const std::string socket = UnixSocketPath(kv.control_address());
  const std::string dir = DirName(socket);

  struct stat dir_stat;
  ASSERT_EQ(lstat(dir.c_str(), &dir_stat), 0) << dir << ": " << strerror(errno);
  EXPECT_TRUE(S_ISDIR(dir_stat.st_mode)) << dir;
  EXPECT_EQ(dir_stat.st_mode & 07777, 0700u) << dir << " has mode 0" << std::oct << (dir_stat.st_mode & 07777);
  EXPECT_EQ(dir_stat.st_uid, geteuid()) << dir;

  struct stat socket_stat;
  ASSERT_EQ(lstat(socket.c_str(), &socket_stat), 0) << socket << ": " << strerror(errno);
  EXPECT_TRUE(S_ISSOCK(socket_stat.st_mode)) << socket;
  EXPECT_EQ(socket_stat.st_mode & 07777, 0600u) << socket << " has mode 0" << std::oct << (socket_stat.st_mode & 07777);
  EXPECT_EQ(socket_stat.st_uid, geteuid()) << socket;

  // The directory is the socket's alone.
  EXPECT_THAT(ListDir(dir), ::testing::ElementsAre("control.sock"));
}

// What a forked child reports through its pipe.
struct ConnectReport {
  int step;   // 0: connect succeeded; otherwise which step failed.
  int error;  // Its errno.
};
constexpr int kStepConnect = 1;
constexpr int kStepDropGroups = 2;
constexpr int kStepDropGid = 3;
constexpr int kStepDropUid = 4;
constexpr int kStepSocket = 5;

std::string StepName(int step) {
  switch (step) {
    case 0:
      return "connected";
    case kStepConnect:
      return "connect";
    case kStepDropGroups:
      return "setgroups";
    case kStepDropGid:
      return "setresgid";
    case kStepDropUid:
      return "setresuid";
    case kStepSocket:
      return "socket";
  }
  return absl::StrCat("step ", step);
}

// Forks a child that (if `as_nobody`) drops to uid/gid 65534 with no
// supplementary groups, then connect(2)s to the Unix socket `path`, and
// reports the outcome through a pipe. This process runs gRPC threads, so the
// child only makes raw system calls (async-signal-safe) between fork and
// _exit: the credential changes are raw syscalls, which act on the calling
// thread, the only one in the child.
absl::StatusOr<ConnectReport> ConnectFromForkedChild(const std::string& path, bool as_nobody) {
  struct sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return absl::InvalidArgumentError("socket path too long");
  memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd read_end(fds[0]), write_end(fds[1]);

  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus(errno, "fork");
  if (pid == 0) {
    ConnectReport report = {0, 0};
    if (as_nobody) {
      if (syscall(SYS_setgroups, 0, nullptr) != 0) {
        report = {kStepDropGroups, errno};
      } else if (syscall(SYS_setresgid, kNogroup, kNogroup, kNogroup) != 0) {
        report = {kStepDropGid, errno};
      } else if (syscall(SYS_setresuid, kNobody, kNobody, kNobody) != 0) {
        report = {kStepDropUid, errno};
      }
    }
    if (report.step == 0) {
      int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (sock < 0) {
        report = {kStepSocket, errno};
      } else if (connect(sock, reinterpret_cast<struct sockaddr*>(&address), sizeof address) != 0) {
        report = {kStepConnect, errno};
      }
    }
    ssize_t ignored = write(write_end.get(), &report, sizeof report);
    (void)ignored;
    _exit(0);
  }
  write_end.reset();
  absl::Cleanup reap = [pid] { KillAndReap(pid).IgnoreError(); };  // The kill is a no-op once it has exited.

  absl::StatusOr<bool> readable = PollReadable(read_end.get(), absl::Now() + absl::Seconds(10), "the child's pipe");
  if (!readable.ok()) return readable.status();
  if (!*readable) return absl::DeadlineExceededError("the child reported nothing within 10s");
  ConnectReport report;
  ssize_t n = read(read_end.get(), &report, sizeof report);
  if (n != static_cast<ssize_t>(sizeof report)) {
    return absl::DataLossError(absl::StrCat("the child's report is ", n, " bytes"));
  }
  return report;
}

// Whether `id` is mapped in this process's user namespace (/proc/self/uid_map
// or gid_map: "inside outside count" lines).
bool IdMapped(const char* map_file, unsigned id) {
  std::ifstream map(map_file);
  unsigned long inside, outside, count;
  while (map >> inside >> outside >> count) {
    if (id >= inside && id - inside < count) return true;
  }
  return false;
}

// Why this process cannot really become another user, or "" if it can.
std::string CannotBecomeNobody() {
  if (getuid() != 0) return absl::StrCat("needs root (uid 0) to fork a child that drops to uid ", kNobody);
  if (!IdMapped("/proc/self/uid_map", kNobody) || !IdMapped("/proc/self/gid_map", kNogroup)) {
    return absl::StrCat("uid/gid ", kNobody,
                        " is not mapped in this user namespace (a sandbox that maps only the "
                        "test's own uid; the target is tagged no-sandbox so that Bazel runs it outside one)");
  }
  std::ifstream setgroups("/proc/self/setgroups");
  std::string policy;
  if (setgroups >> policy && policy == "deny") {
    return "setgroups(2) is denied in this user namespace, so supplementary groups cannot be dropped";
  }
  return "";
}

TEST_P(ControlSocketPermissionsTest, AnotherUserCannotConnectToTheControlSocket) {
  if (std::string why = CannotBecomeNobody(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(GetParam(), "private")));
  const std::string socket = UnixSocketPath(kv.control_address());

  // The same child, still root, connects: the path is right.
  ASSERT_OK_AND_ASSIGN(ConnectReport as_root, ConnectFromForkedChild(socket, /*as_nobody=*/false));
  ASSERT_EQ(as_root.step, 0) << StepName(as_root.step) << ": " << strerror(as_root.error);

  ASSERT_OK_AND_ASSIGN(ConnectReport as_nobody, ConnectFromForkedChild(socket, /*as_nobody=*/true));
  EXPECT_EQ(as_nobody.step, kStepConnect) << StepName(as_nobody.step) << ": " << strerror(as_nobody.error);
  EXPECT_EQ(as_nobody.error, EACCES) << strerror(as_nobody.error);

  // The server noticed nothing.
  EXPECT_THAT(kv.status(), IsServing());
}

TEST_P(ControlSocketPermissionsTest, SocketStaysClosedToAnotherUserEvenIfItsDirectoryIsOpenedUp) {
  if (std::string why = CannotBecomeNobody(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(GetParam(), "private")));
  const std::string socket = UnixSocketPath(kv.control_address());
  const std::string dir = DirName(socket);

  // Defence in depth: with the directory searchable by all, the socket's own
  // 0600 still keeps others out (connect needs write permission on it).
  ASSERT_EQ(chmod(dir.c_str(), 0711), 0) << strerror(errno);
  absl::Cleanup restore = [&dir] { chmod(dir.c_str(), 0700); };
  ASSERT_OK_AND_ASSIGN(ConnectReport as_nobody, ConnectFromForkedChild(socket, /*as_nobody=*/true));
  EXPECT_EQ(as_nobody.step, kStepConnect) << StepName(as_nobody.step) << ": " << strerror(as_nobody.error);
  EXPECT_EQ(as_nobody.error, EACCES) << strerror(as_nobody.error);
}

INSTANTIATE_TEST_SUITE_P(BothModes, ControlSocketPermissionsTest, ::testing::Values(Mode::kExec, Mode::kInProcess),
                         [](const ::testing::TestParamInfo<Mode>& info) { return ModeName(info.param); });

}  // namespace
}  // namespace fixture::reliability
