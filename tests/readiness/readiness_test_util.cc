#include "tests/readiness/readiness_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "fixture/executable_path.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/poll.h"
#include "fixture/launch_spec.h"
#include "fixture/testing.h"
#include <netinet/in.h>

namespace fixture {

void PrintTo(const WatchOutcome& outcome, std::ostream* os) {
  const char* kinds[] = {"kReady", "kExited", "kTimedOut"};
  *os << kinds[outcome.kind] << " (main_pid " << outcome.main_pid << ")";
}

namespace readiness_test {

::testing::Matcher<absl::StatusOr<WatchOutcome>> IsOutcome(WatchOutcome::Kind kind) {
  return ::fixture::testing::IsOkAndHolds(::testing::Field(&WatchOutcome::kind, kind));
}

void WatchTest::SetUp() {
  absl::StatusOr<PrivateDir> dir = PrivateDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  dir_.emplace(*std::move(dir));
}

absl::StatusOr<ChildProcess> StartChild(const std::vector<std::string>& argv, ChildStdio stdio,
                                        std::vector<std::pair<std::string, std::string>> env) {
  absl::StatusOr<std::string> path = argv[0].front() == '/' ? argv[0] : FindExecutable(argv[0]);
  if (!path.ok()) return path.status();
  LaunchSpec spec;
  spec.program = Binary{*path};
  spec.args.assign(argv.begin() + 1, argv.end());
  spec.env.set = std::move(env);
  spec.stdio = stdio;
  spec.own_process_group = true;
  return Launch(spec);
}

absl::StatusOr<UniqueFd> UnlinkedLogFile(absl::string_view dir, absl::string_view name) {
  std::string path = absl::StrCat(dir, "/", name);
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus(errno, absl::StrCat("open(", path, ")"));
  if (unlink(path.c_str()) != 0) return ErrnoStatus(errno, absl::StrCat("unlink(", path, ")"));
  return fd;
}

std::string ReservedPort::address() const { return absl::StrCat("127.0.0.1:", port); }

absl::StatusOr<ReservedPort> ReservePort() {
  ReservedPort reserved;
  reserved.socket.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!reserved.socket) return ErrnoStatus(errno, "socket(AF_INET)");
  int one = 1;
  if (setsockopt(reserved.socket.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return ErrnoStatus(errno, "setsockopt(SO_REUSEADDR)");
  }
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(reserved.socket.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof address) != 0) {
    return ErrnoStatus(errno, "bind(127.0.0.1:0)");
  }
  socklen_t length = sizeof address;
  if (getsockname(reserved.socket.get(), reinterpret_cast<struct sockaddr*>(&address), &length) != 0) {
    return ErrnoStatus(errno, "getsockname()");
  }
  reserved.port = ntohs(address.sin_port);
  return reserved;
}

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2()");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

absl::StatusOr<std::string> RedisCommand(const std::string& path, absl::string_view command) {
  UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket) return ErrnoStatus(errno, "socket(AF_UNIX)");
  struct sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return absl::InvalidArgumentError(absl::StrCat("too long: ", path));
  memcpy(address.sun_path, path.data(), path.size());
  if (connect(socket.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof address) != 0) {
    return ErrnoStatus(errno, absl::StrCat("connect(", path, ")"));
  }
  std::string line = absl::StrCat(command, "\r\n");
  if (write(socket.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return ErrnoStatus(errno, "write(redis)");
  }
  std::string answer;
  absl::Time deadline = absl::Now() + kLongWait;
  while (answer.find("\r\n") == std::string::npos) {
    absl::StatusOr<bool> readable = PollReadable(socket.get(), deadline, "redis");
    if (!readable.ok()) return readable.status();
    if (!*readable) return absl::DeadlineExceededError("no answer from redis");
    char buffer[256];
    ssize_t n = read(socket.get(), buffer, sizeof buffer);
    if (n <= 0) return ErrnoStatus(n == 0 ? ECONNRESET : errno, "read(redis)");
    answer.append(buffer, static_cast<size_t>(n));
  }
  return answer.substr(0, answer.find("\r\n"));
}

}  // namespace readiness_test
}  // namespace fixture
