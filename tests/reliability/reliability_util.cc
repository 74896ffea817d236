#include "tests/reliability/reliability_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fixture/fork_server.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/fork_safety.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/socket_path.h"
#include "fixture/launch/unique_fd.h"
#include "grpc/grpc.h"

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

// Not in Debian 12's headers either (linux/pidfd.h, Linux 6.13 and 6.15):
// PIDFD_GET_INFO and the first version (64 bytes) of its struct pidfd_info.
// With PIDFD_INFO_EXIT, exit_code is the wait status, kept once the process
// is reaped, by whoever reaps it.
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
static_assert(sizeof(PidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");
constexpr uint64_t kPidfdInfoExit = uint64_t{1} << 3;
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);

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

void ExpectReapedEverywhere(pid_t pid) {
  EXPECT_THAT(ChildrenOf(getpid()), ::testing::Not(::testing::Contains(pid))) << "pid " << pid << " is still our child";
  EXPECT_THAT(ChildrenOf(ForkServerPid()), ::testing::Not(::testing::Contains(pid)))
      << "pid " << pid << " is still the fork server's";
}

void ExpectNothingLeftOf(const absl::Status& error) {
  std::optional<v1::Failure> failure = FailureOf(error);
  ASSERT_TRUE(failure.has_value()) << "no fixture.v1.Failure on: " << error;
  ASSERT_GT(failure->pid(), 0) << failure->ShortDebugString();
  ExpectReapedEverywhere(static_cast<pid_t>(failure->pid()));
  const std::string socket = UnixSocketPath(failure->control_address());
  ASSERT_THAT(socket, ::testing::HasSubstr("/fixture-")) << failure->ShortDebugString();
  EXPECT_FALSE(PathExists(DirName(socket))) << DirName(socket) << " is left behind";
}

std::vector<pid_t> DescendantsOf(pid_t ancestor) {
  std::map<pid_t, pid_t> parent;  // Of every process /proc lists now.
  for (const std::string& name : ListDir("/proc")) {
    pid_t pid;
    if (!absl::SimpleAtoi(name, &pid)) continue;
    if (std::optional<pid_t> ppid = ParentOf(pid)) parent[pid] = *ppid;
  }
  std::vector<pid_t> descendants;
  for (const auto& [pid, ppid] : parent) {
    // Up the chain (bounded: a chain read while processes come and go may
    // hold a loop of reused pids).
    pid_t up = ppid;
    for (size_t hops = 0; up > 1 && up != ancestor && hops < parent.size(); ++hops) {
      auto found = parent.find(up);
      up = found == parent.end() ? 0 : found->second;
    }
    if (up == ancestor && pid != ancestor) descendants.push_back(pid);
  }
  return descendants;  // Sorted: the map is.
}

std::vector<pid_t> ProcessGroupsBelow(pid_t ancestor) {
  const pid_t own_group = getpgrp();
  std::vector<pid_t> groups;
  for (pid_t pid : DescendantsOf(ancestor)) {
    std::optional<pid_t> group = ProcessGroupOf(pid);
    if (group.has_value() && *group != own_group) groups.push_back(*group);
  }
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  return groups;
}

std::optional<pid_t> ProcessGroupOf(pid_t pid) {
  pid_t group = getpgid(pid);
  if (group < 0) return std::nullopt;
  return group;
}

Subreaper::Subreaper() {
  prctl(PR_GET_CHILD_SUBREAPER, &previous_);
  ok_ = prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
}

Subreaper::~Subreaper() { prctl(PR_SET_CHILD_SUBREAPER, previous_); }

absl::StatusOr<ExitInfo> AwaitAndReapOrphan(int pidfd, pid_t pid, absl::Time deadline) {
  absl::StatusOr<bool> exited = PollReadable(pidfd, deadline, absl::StrCat("pidfd of pid ", pid));
  if (!exited.ok()) return exited.status();
  if (!*exited) return absl::DeadlineExceededError(absl::StrCat("pid ", pid, " still runs at the deadline"));
  int status = 0;
  pid_t reaped;
  do {
    reaped = waitpid(pid, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped < 0 && errno == ECHILD) {
    // Reaped by its own parent before it could be orphaned (see the header).
    absl::StatusOr<ExitInfo> recorded = RecordedExit(pidfd, pid);
    if (recorded.ok() || absl::IsUnimplemented(recorded.status())) return recorded;
    return absl::FailedPreconditionError(
        absl::StrCat("waitpid(", pid, "): ", strerror(ECHILD), "; ", recorded.status().message()));
  }
  if (reaped < 0) return ErrnoStatus(errno, absl::StrCat("waitpid(", pid, ")"));
  if (reaped == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("pid ", pid, " has exited but is not a zombie child of ours (yet); its parent is ",
                     ParentOf(pid).value_or(-1)));
  }
  return ExitInfo::FromWaitStatus(pid, status);
}

absl::StatusOr<ExitInfo> RecordedExit(int pidfd, pid_t pid) {
  PidfdInfo info = {};
  info.mask = kPidfdInfoExit;
  if (ioctl(pidfd, kPidfdGetInfo, &info) != 0) {
    // ENOTTY/EINVAL: no PIDFD_GET_INFO (before 6.13); ESRCH: a reaped
    // process, and no exit record to give (before 6.15).
    if (errno == ENOTTY || errno == EINVAL || errno == ESRCH) {
      return absl::UnimplementedError(absl::StrCat("pid ", pid,
                                                   " was reaped elsewhere, and this kernel keeps no "
                                                   "exit record on its pidfd (PIDFD_GET_INFO: ",
                                                   strerror(errno), ")"));
    }
    return ErrnoStatus(errno, absl::StrCat("ioctl(pidfd of pid ", pid, ", PIDFD_GET_INFO)"));
  }
  if ((info.mask & kPidfdInfoExit) == 0) {
    return absl::FailedPreconditionError(absl::StrCat("pid ", pid, " has no exit record on its pidfd: not reaped yet"));
  }
  return ExitInfo::FromWaitStatus(pid, info.exit_code);
}

namespace {

// The flock(2) locks /proc/locks lists for `pid`
// ("1: FLOCK  ADVISORY  READ 4242 08:01:1234 0 EOF").
int FlockLocksOf(pid_t pid) {
  std::ifstream locks("/proc/locks");
  int count = 0;
  for (std::string line; std::getline(locks, line);) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.size() < 5 || words[1] != "FLOCK") continue;
    pid_t holder;
    if (absl::SimpleAtoi(words[4], &holder) && holder == pid) ++count;
  }
  return count;
}

}  // namespace

std::string Census::ToString() const {
  return absl::StrCat("grpc_initialized=", grpc_initialized, " fds=", open_fds, " threads=", threads, " children=[",
                      absl::StrJoin(children, ","), "] fork_server_children=[",
                      absl::StrJoin(fork_server_children, ","), "] socket_dirs=[", absl::StrJoin(socket_dirs, ","),
                      "] process_groups=[", absl::StrJoin(process_groups, ","), "] dir_locks=", dir_locks);
}

absl::Status OpenNamedPids(absl::string_view line, std::map<std::string, pid_t>* pids,
                           std::map<std::string, UniqueFd>* pidfds) {
  for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
    pid_t pid;
    if (kv.size() != 2 || !absl::SimpleAtoi(kv[1], &pid) || pid <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("not name=PID: \"", field, "\" in \"", line, "\""));
    }
    (*pids)[kv[0]] = pid;
    UniqueFd pidfd = OpenPidfd(pid);
    if (!pidfd) return ErrnoStatus(errno, absl::StrCat("pidfd_open(", kv[0], " = ", pid, ")"));
    (*pidfds)[kv[0]] = std::move(pidfd);
  }
  return absl::OkStatus();
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
  census.process_groups = ProcessGroupsBelow(getpid());
  census.dir_locks = FlockLocksOf(getpid());
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
