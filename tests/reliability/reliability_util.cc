#include "tests/reliability/reliability_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fixture/fork_server.h"
#include "grpc/grpc.h"
#include "launch/errno_status.h"
#include "launch/fork_safety.h"
#include "launch/pidfd.h"
#include "launch/poll.h"
#include "launch/unique_fd.h"

namespace fixture::reliability {
namespace {

// The comm names (15 characters at most) of the threads gRPC starts.
constexpr absl::string_view kGrpcThreadNames[] = {
    "event_engine", "timer_manager", "grpc_shutdown", "grpc_global_tim", "default-executo", "resolver-execut",
};

// Not in Debian 12's headers: a pidfd of a thread rather than a process
// (Linux 6.9), readable once that thread has exited. OpenPidfd()
// (launch/pidfd.h) passes it to pidfd_open(2) as a flag.
constexpr unsigned kPidfdThread = O_EXCL;

std::string ThreadName(pid_t tid) {
  std::ifstream comm(absl::StrCat("/proc/self/task/", tid, "/comm"));
  std::string name;
  std::getline(comm, name);
  return name;
}

// Waits until thread `tid` of this process has exited or `deadline` passes.
// True once it is gone; also true when the kernel has no thread pidfds (the
// wait is then skipped).
bool AwaitThreadExit(pid_t tid, absl::Time deadline) {
  UniqueFd pidfd = OpenPidfd(tid, kPidfdThread);
  if (!pidfd) return errno == ESRCH || errno == EINVAL;
  absl::StatusOr<bool> exited = PollReadable(pidfd.get(), deadline, absl::StrCat("pidfd of thread ", tid));
  return exited.ok() && *exited;
}

}  // namespace

std::string ModeName(Mode mode) { return mode == Mode::kExec ? "Exec" : "InProcess"; }

FixtureOptions KvOptions(Mode mode, std::string name, std::vector<std::string> args) {
  FixtureOptions options;
  options.name = std::move(name);
  if (mode == Mode::kExec) {
    options.program = Binary{kKvServerBinary};
  } else {
    options.program = Registered{kMimicKv};
  }
  options.args = std::move(args);
  return options;
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return names;
  while (struct dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<pid_t> ParentOf(pid_t pid) {
  std::optional<testing::ProcInfo> info = testing::ReadProc(pid);
  if (!info.has_value()) return std::nullopt;
  return info->ppid;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  if (parent <= 0) return children;
  for (const std::string& name : ListDir("/proc")) {
    pid_t pid;
    if (!absl::SimpleAtoi(name, &pid)) continue;
    if (ParentOf(pid) == parent) children.push_back(pid);
  }
  std::sort(children.begin(), children.end());
  return children;
}

std::string Census::ToString() const {
  return absl::StrCat("grpc_initialized=", grpc_initialized, " fds=", open_fds, " threads=", threads, " children=[",
                      absl::StrJoin(children, ","), "] fork_server_children=[",
                      absl::StrJoin(fork_server_children, ","), "] socket_dirs=[", absl::StrJoin(socket_dirs, ","),
                      "]");
}

std::vector<pid_t> GrpcThreads() {
  std::vector<pid_t> threads;
  for (const std::string& name : ListDir("/proc/self/task")) {
    pid_t tid;
    if (!absl::SimpleAtoi(name, &tid)) continue;
    const std::string comm = ThreadName(tid);
    for (absl::string_view grpc : kGrpcThreadNames) {
      if (comm == grpc) threads.push_back(tid);
    }
  }
  return threads;
}

Census TakeCensus(const std::string& socket_base, absl::Time settle_deadline) {
  // A clean-up thread gRPC may have started for its shutdown holds gRPC
  // initialized until it is done: let it finish first.
  for (pid_t tid : GrpcThreads()) {
    if (ThreadName(tid) == "grpc_shutdown") AwaitThreadExit(tid, settle_deadline);
  }
  Census census;
  census.grpc_initialized = grpc_is_initialized() != 0;
  if (!census.grpc_initialized) {
    for (pid_t tid : GrpcThreads()) AwaitThreadExit(tid, settle_deadline);
  }
  // The listing's own descriptor was open while it read /proc/self/fd.
  census.open_fds = static_cast<int>(ListDir("/proc/self/fd").size()) - 1;
  census.threads = ThreadCount();
  census.children = ChildrenOf(getpid());
  census.fork_server_children = ChildrenOf(ForkServerPid());
  for (const std::string& name : ListDir(socket_base)) {
    if (absl::StartsWith(name, "fixture-")) census.socket_dirs.push_back(name);
  }
  return census;
}

absl::StatusOr<SocketBase> SocketBase::Create() {
  std::string templ = "/tmp/reliability-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return ErrnoStatus(errno, "mkdtemp(/tmp/reliability-XXXXXX)");
  return SocketBase(std::move(templ));
}

SocketBase::SocketBase(SocketBase&& other) noexcept : path_(std::exchange(other.path_, "")) {}

SocketBase::~SocketBase() {
  if (path_.empty()) return;
  // Whatever a failing test left: socket directories one level down, with files.
  for (const std::string& name : ListDir(path_)) {
    std::string sub = absl::StrCat(path_, "/", name);
    for (const std::string& file : ListDir(sub)) unlink(absl::StrCat(sub, "/", file).c_str());
    if (rmdir(sub.c_str()) != 0) unlink(sub.c_str());
  }
  rmdir(path_.c_str());
}

}  // namespace fixture::reliability
