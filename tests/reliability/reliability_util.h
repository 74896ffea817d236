// Helpers for the reliability and security tests: the two launch modes, a
// census of what a process holds (descriptors, threads, children, socket
// directories), a scratch parent directory for socket directories and
// process checks through /proc. The helpers every suite shares are in
// tests/test_util.h, the status and stop matchers in fixture/testing.h.
#ifndef FIXTURE_TESTS_RELIABILITY_RELIABILITY_UTIL_H_
#define FIXTURE_TESTS_RELIABILITY_RELIABILITY_UTIL_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "tests/test_util.h"

namespace fixture::reliability {

// How a fixture runs its server.
enum class Mode {
  kExec,       // fork+exec of example/kv_server.
  kInProcess,  // FIXTURE_SERVER(MimicKv) (mimic_kv.cc) forked by the fork server.
};
// "Exec" / "InProcess", for parameterized test names.
std::string ModeName(Mode mode);
inline void PrintTo(Mode mode, std::ostream* os) { *os << ModeName(mode); }

// The in-process twin of example/kv_server: the same KeyValue service and the
// same --test_* misbehaviours (see mimic_kv.cc).
inline constexpr char kMimicKv[] = "MimicKv";
inline constexpr char kKvServerBinary[] = "example/kv_server";

// Options for a KeyValue fixture named `name` in `mode`, with kv_server flags.
FixtureOptions KvOptions(Mode mode, std::string name, std::vector<std::string> args = {});

// Shared with the other suites (tests/test_util.h).
using ::fixture::testing::DirName;
using ::fixture::testing::ExitsBy;
using ::fixture::testing::ExitsWithin;
using ::fixture::testing::KvPut;
using ::fixture::testing::PathExists;
using ::fixture::testing::SocketDirOf;
// The public matchers (fixture/testing.h).
using ::fixture::testing::CarriesFailure;
using ::fixture::testing::FailureAt;
using ::fixture::testing::ForField;
using ::fixture::testing::IsOk;
using ::fixture::testing::IsOkAndHolds;
using ::fixture::testing::IsServing;
using ::fixture::testing::ProcessExitedWith;
using ::fixture::testing::ProcessKilledBy;
using ::fixture::testing::StatusIs;
using ::fixture::testing::StoppedBy;
using ::fixture::testing::StoppedBySignal;
using ::fixture::testing::StoppedCleanly;

// Names in directory `path` (no "." or ".."), sorted; empty if unreadable.
std::vector<std::string> ListDir(const std::string& path);

// The parent pid of `pid` from /proc/<pid>/stat; nullopt if there is no such
// process.
std::optional<pid_t> ParentOf(pid_t pid);
// Processes whose parent is `parent`, from /proc/*/stat, sorted.
std::vector<pid_t> ChildrenOf(pid_t parent);

// The process is gone and reaped by whoever forked it: not a child (zombie
// or not) of this process or of the fork server.
void ExpectReapedEverywhere(pid_t pid);

// After a failed start: the child its Failure names is reaped everywhere and
// the socket directory of its control address removed (the control socket
// may have been up).
void ExpectNothingLeftOf(const absl::Status& error);

// What this process holds, for before/after comparisons.
struct Census {
  // Whether any gRPC object is alive (grpc_is_initialized()): a leaked
  // channel, stub or server keeps gRPC initialized.
  bool grpc_initialized = false;
  int open_fds = -1;
  int threads = -1;
  std::vector<pid_t> children;              // PPid == getpid().
  std::vector<pid_t> fork_server_children;  // PPid == fixture::ForkServerPid().
  std::vector<std::string> socket_dirs;     // fixture-* entries of the socket base.
  // Process groups other than this process's own that hold a descendant of
  // this process (sorted pgids): every live server leads one, and a process
  // left of a server's group once it is gone (a sidecar) keeps one. An
  // orphan is reparented away from this process unless it is a subreaper
  // (class Subreaper): take the census inside one to see what is left.
  std::vector<pid_t> process_groups;
  // flock(2) locks this process holds (/proc/locks): every live private
  // socket directory holds one, wherever its base.
  int dir_locks = -1;

  std::string ToString() const;
};
// Takes the census; `socket_base` is the directory whose fixture-* entries
// are counted.
//
// When the last gRPC object is released, gRPC shuts down, and its own threads
// (event_engine, timer_manager, ...) exit a moment later: first, when no gRPC
// object is alive, this waits for each of them to exit (a thread pidfd,
// PIDFD_THREAD, polled until `settle_deadline`), so that the thread count is
// not taken while they are on their way out.
Census TakeCensus(const std::string& socket_base, absl::Time settle_deadline = absl::Now() + absl::Seconds(10));

// Processes below this one (children, theirs, ...) as /proc shows them now,
// sorted.
std::vector<pid_t> DescendantsOf(pid_t ancestor);

// The process groups, other than this process's own, of the processes below
// `ancestor` (Census.process_groups), sorted.
std::vector<pid_t> ProcessGroupsBelow(pid_t ancestor);

// The process group of `pid` (getpgid(2)); nullopt if there is no such process.
std::optional<pid_t> ProcessGroupOf(pid_t pid);

// While it lives, this process is a child subreaper (PR_SET_CHILD_SUBREAPER):
// an orphaned descendant (a server's sidecar, a wrapper script's server)
// becomes its child, so that it shows in a Census and can be reaped here and
// its end checked. Restores the previous setting on destruction.
class Subreaper {
 public:
  Subreaper();
  ~Subreaper();
  Subreaper(const Subreaper&) = delete;
  Subreaper& operator=(const Subreaper&) = delete;
  // Whether prctl(2) took it.
  bool ok() const { return ok_; }

 private:
  int previous_ = 0;
  bool ok_ = false;
};

// For a process that is (or, once its parent is gone, becomes) a child of
// this subreaper: waits on a pidfd opened before (`pidfd`, from OpenPidfd
// while it ran, so that a reused pid cannot mislead) until it exits or
// `deadline` passes, then reaps it. How it ended; DeadlineExceeded if it
// still runs.
//
// Its own parent may have reaped it instead: a parent killed together with
// it (one SIGKILL to their process group) can still collect a child that
// died first, since a wait(2) under way looks for a zombie before it gives
// way to the pending signal. Then the orphan never comes here (waitpid(2):
// ECHILD), and how it ended is what the kernel recorded on its pidfd
// (RecordedExit). Unimplemented when the kernel keeps no such record; the
// errno text of waitpid(2) for any other failure.
absl::StatusOr<ExitInfo> AwaitAndReapOrphan(int pidfd, pid_t pid, absl::Time deadline);

// How the process behind `pidfd` (of `pid`) ended, from the record the
// kernel keeps on the pidfd once the process is reaped, whoever reaped it
// (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15). FailedPrecondition
// while it is not reaped; Unimplemented on a kernel without the record.
absl::StatusOr<ExitInfo> RecordedExit(int pidfd, pid_t pid);

// Reads the processes a role names on one line, "name=PID name=PID ...",
// into `pids` and opens a pidfd of each into `pidfds` (now, while it runs,
// so that a reused pid cannot mislead a later wait). InvalidArgument quoting
// the line when a field is not name=PID; the errno text of pidfd_open(2),
// naming the process, when one is gone already. What was read before an
// error stays in the maps (for the caller's clean-up).
absl::Status OpenNamedPids(absl::string_view line, std::map<std::string, pid_t>* pids,
                           std::map<std::string, UniqueFd>* pidfds);

// Threads of this process named as gRPC names its own threads.
std::vector<pid_t> GrpcThreads();

// A scratch parent directory for fixtures' socket directories
// (FixtureOptions.socket_dir): "/tmp/reliability-XXXXXX", short enough for
// socket paths. Counting fixture-* directories in it, rather than in the
// shared /tmp, sees only this test's, even while other tests run. Removed
// (with anything left in it) on destruction.
class SocketBase {
 public:
  static absl::StatusOr<SocketBase> Create();
  SocketBase(SocketBase&& other) noexcept;
  SocketBase& operator=(SocketBase&&) = delete;
  ~SocketBase();
  const std::string& path() const { return path_; }

 private:
  explicit SocketBase(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace fixture::reliability

#endif  // FIXTURE_TESTS_RELIABILITY_RELIABILITY_UTIL_H_
