#include "tests/test_util.h"

#include <dirent.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/grpc_status.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/socket_path.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/third_party/grpc_health/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture::testing {
namespace {

using example::v1::KeyValue;

constexpr absl::Duration kRpcDeadline = absl::Seconds(10);

}  // namespace

FixtureOptions KvOptions(std::string name, std::vector<std::string> args) {
  FixtureOptions options;
  options.name = std::move(name);
  options.program = Binary{kKvServer};
  options.args = std::move(args);
  return options;
}

FixtureOptions AttachedKvOptions() {
  FixtureOptions options;
  options.name = "attached";
  options.program = Binary{"example/attached_server"};
  return options;
}

FixtureOptions RedisOptions(std::vector<std::string> args) {
  FixtureOptions options;
  options.name = "redis";
  options.program = Binary{"/usr/bin/redis-server"};
  options.ready = ReadyBySdNotify{};
  options.args = {"--supervised", "systemd", "--save", "", "--appendonly", "no", "--dir", "{dir}"};
  options.args.insert(options.args.end(), args.begin(), args.end());
  return options;
}

absl::Status KvPut(const std::shared_ptr<grpc::Channel>& channel, absl::string_view key, absl::string_view value) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kRpcDeadline));
  example::v1::PutRequest request;
  request.set_key(std::string(key));
  request.set_value(std::string(value));
  example::v1::PutResponse response;
  return FromGrpc(KeyValue::NewStub(channel)->Put(&context, request, &response));
}

absl::StatusOr<std::string> KvGet(const std::shared_ptr<grpc::Channel>& channel, absl::string_view key,
                                  absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  example::v1::GetRequest request;
  request.set_key(std::string(key));
  example::v1::GetResponse response;
  grpc::Status rpc = KeyValue::NewStub(channel)->Get(&context, request, &response);
  if (!rpc.ok()) return FromGrpc(rpc);
  return response.value();
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> HealthOf(
    const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kRpcDeadline));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status rpc =
      grpc::health::v1::Health::NewStub(channel)->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  if (!rpc.ok()) return FromGrpc(rpc);
  return response.status();
}

std::optional<int64_t> CallsOf(const v1::Status& status, absl::string_view method) {
  for (const v1::MethodCalls& calls : status.method_calls()) {
    if (calls.method() == method) return calls.calls();
  }
  return std::nullopt;
}

std::string DirName(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? "." : std::string(path.substr(0, slash));
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

absl::StatusOr<UniqueFd> ListenOnLoopback(int port) {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return ErrnoStatus(errno, "socket(AF_INET, SOCK_STREAM)");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind(127.0.0.1:", port, ")"));
  }
  if (listen(listener.get(), 1) != 0) return ErrnoStatus(errno, absl::StrCat("listen(127.0.0.1:", port, ")"));
  return listener;
}

int PortOf(int listener) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  return ntohs(address.sin_port);
}

std::string SocketDirOf(absl::string_view control_address) { return DirName(UnixSocketPath(control_address)); }

std::optional<ProcInfo> ReadProc(pid_t pid) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!file || !std::getline(file, line)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // parse after the last ')'.
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 1));
  ProcInfo info;
  rest >> info.state >> info.ppid;
  if (!rest) return std::nullopt;
  return info;
}

void ExpectNothingLeftBehind(const absl::Status& error) {
  std::optional<v1::Failure> failure = FailureOf(error);
  ASSERT_TRUE(failure.has_value()) << "no fixture.v1.Failure on: " << error;
  ASSERT_GT(failure->pid(), 0) << failure->ShortDebugString();
  EXPECT_TRUE(IsReaped(static_cast<pid_t>(failure->pid())));
  EXPECT_THAT(ZombieChildren(), ::testing::IsEmpty());
  const std::string socket = UnixSocketPath(failure->control_address());
  ASSERT_THAT(socket, ::testing::HasSubstr("/fixture-")) << failure->ShortDebugString();
  EXPECT_FALSE(PathExists(DirName(socket))) << DirName(socket) << " is left behind";
}

std::vector<pid_t> ZombieChildren() {
  std::vector<pid_t> zombies;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return zombies;
  const pid_t self = getpid();
  while (struct dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::optional<ProcInfo> info = ReadProc(pid);
    if (info.has_value() && info->ppid == self && info->state == 'Z') zombies.push_back(pid);
  }
  closedir(proc);
  return zombies;
}

::testing::AssertionResult IsReaped(pid_t pid) {
  if (pid <= 0) return ::testing::AssertionFailure() << "no pid (" << pid << ")";
  std::optional<ProcInfo> info = ReadProc(pid);
  if (!info.has_value()) return ::testing::AssertionSuccess() << "/proc/" << pid << " does not exist";
  if (info->ppid != getpid()) {
    return ::testing::AssertionSuccess() << "pid " << pid << " now belongs to a process that is not our child";
  }
  return ::testing::AssertionFailure() << "pid " << pid << " is still a child of this process in state " << info->state
                                       << (info->state == 'Z' ? " (zombie: exited but not reaped)" : " (running)");
}

absl::StatusOr<bool> AwaitExit(pid_t pid, absl::Time deadline) {
  UniqueFd pidfd = OpenPidfd(pid);
  if (!pidfd) {
    if (errno == ESRCH) return true;  // No such process: it is gone already.
    return ErrnoStatus(errno, absl::StrCat("pidfd_open(", pid, ")"));
  }
  return PollReadable(pidfd.get(), deadline, absl::StrCat("pidfd of pid ", pid));
}

::testing::AssertionResult ExitsBy(pid_t pid, absl::Time deadline) {
  absl::StatusOr<bool> exited = AwaitExit(pid, deadline);
  if (!exited.ok()) return ::testing::AssertionFailure() << "cannot wait for pid " << pid << ": " << exited.status();
  if (!*exited) {
    return ::testing::AssertionFailure() << "pid " << pid << " still runs at the deadline";
  }
  return ::testing::AssertionSuccess() << "pid " << pid << " has exited";
}

::testing::AssertionResult ExitsWithin(pid_t pid, absl::Duration timeout) {
  absl::StatusOr<bool> exited = AwaitExit(pid, absl::Now() + timeout);
  if (!exited.ok()) return ::testing::AssertionFailure() << "cannot wait for pid " << pid << ": " << exited.status();
  if (!*exited) {
    return ::testing::AssertionFailure() << "pid " << pid << " still runs " << absl::FormatDuration(timeout)
                                         << " later";
  }
  return ::testing::AssertionSuccess() << "pid " << pid << " has exited";
}

void ExpectExitedZeroOnItsOwn(Fixture& server, absl::Duration within, absl::string_view why) {
  ASSERT_TRUE(ExitsWithin(server.pid(), within)) << "after " << why;
  ASSERT_OK_AND_ASSIGN(StopResult stopped, server.Stop());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kAlreadyExited));
  EXPECT_EQ(stopped.exit.ToString(), "exited with status 0") << stopped.ToString();
}

}  // namespace fixture::testing
