// Where a fixture's private socket directory goes, and what becomes of one
// whose owner died without removing it.
//
// Base: the first of TEST_TMPDIR, TMPDIR and /tmp in which a socket path
// fits, made absolute; FixtureOptions.socket_dir overrides it. When the
// directory cannot be made, the error names where the base came from ("(from
// TMPDIR)"), and names FixtureOptions.socket_dir only when that option was
// set. Each case runs in a role process (this binary again, with
// FIXTURE_TEST_ROLE) whose environment the test chooses: the parent's own
// environment is not changed under gRPC's threads.
//
// A test process that dies by SIGKILL, SIGTERM (Bazel's timeout) or abort()
// with a fixture running in each mode leaves nothing: its servers see it go,
// stop and remove their sockets and directories; the count of fixture-*
// directories in the base is the same before and after, and no process or
// process group is left.
//
// Abandoned: each directory is flock()ed by its owner. A role process starts
// a fixture and then it and its server are SIGKILLed, as Bazel's sandbox
// teardown kills a whole PID namespace: nobody removes the directory. The
// next Fixture::Start in that base, once the directory is older than the
// sweep's minimum age (5 s), removes it; a directory whose owner lives (this
// process's, another role's) is never removed. In both launch modes.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/failure.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/socket_path.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/proto/failure.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/mimic_kv.h"
#include "tests/reliability/reliability_util.h"
#include "tests/role_process.h"

namespace fixture::reliability {
namespace {

using ::fixture::testing::ReadLine;
using ::fixture::testing::RoleProcess;
using ::fixture::testing::SpawnRole;
using ::fixture::testing::WaitForRole;

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// Roles, and the variables that tell them what to do.
constexpr char kReportRole[] = "report";                     // Start, print the outcome, stop.
constexpr char kHoldRole[] = "hold";                         // Start, print, hold until EOF on stdin.
constexpr char kDieRole[] = "die";                           // Start both modes, print, die as told on stdin.
constexpr char kSocketDirEnv[] = "FIXTURE_TEST_SOCKET_DIR";  // FixtureOptions.socket_dir.
constexpr char kChdirEnv[] = "FIXTURE_TEST_CHDIR";           // Working directory first.
constexpr char kModeEnv[] = "FIXTURE_TEST_MODE";             // "Exec" (default) or "InProcess".

// --- The roles ------------------------------------------------------------------------

FixtureOptions RoleOptions() {
  const char* mode = getenv(kModeEnv);
  FixtureOptions options =
      KvOptions(mode != nullptr && std::string(mode) == "InProcess" ? Mode::kInProcess : Mode::kExec, "based");
  if (const char* dir = getenv(kSocketDirEnv)) options.socket_dir = dir;
  return options;
}

// Prints "ok ADDRESS" once the server answers SERVING, then stops it; or
// "error CODE HEX(message) HEX(Failure)" when Start() fails; or "broken WHAT".
int RunReport() {
  if (const char* dir = getenv(kChdirEnv); dir != nullptr && chdir(dir) != 0) {
    printf("broken chdir(%s): %s\n", dir, strerror(errno));
    return 1;
  }
  absl::StatusOr<Fixture> kv = Fixture::Start(RoleOptions());
  if (!kv.ok()) {
    auto failure = kv.status().GetPayload(kFailureTypeUrl);
    printf("error %d %s %s\n", static_cast<int>(kv.status().code()),
           absl::BytesToHexString(kv.status().message()).c_str(),
           failure.has_value() ? absl::BytesToHexString(std::string(*failure)).c_str() : "-");
    return 0;
  }
  absl::StatusOr<v1::Status> status = kv->status();
  if (!status.ok() || status->state() != v1::SERVING) {
    printf("broken status: %s\n", status.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<StopResult> stopped = kv->Stop();
  if (!stopped.ok() || !stopped->clean()) {
    printf("broken stop: %s\n", stopped.ok() ? stopped->ToString().c_str() : stopped.status().ToString().c_str());
    return 1;
  }
  printf("ok %s\n", kv->control_address().c_str());
  return 0;
}

// Prints "PID ADDRESS" once started, holds the fixture until EOF on stdin,
// then stops it and prints "stopped clean" (or what went wrong).
int RunHold() {
  absl::StatusOr<Fixture> kv = Fixture::Start(RoleOptions());
  if (!kv.ok()) {
    printf("error %s\n", absl::CEscape(kv.status().ToString()).c_str());
    return 1;
  }
  printf("%d %s\n", kv->pid(), kv->control_address().c_str());
  fflush(stdout);
  for (;;) {
    char byte;
    ssize_t n = read(STDIN_FILENO, &byte, 1);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  absl::StatusOr<StopResult> stopped = kv->Stop();
  printf("stopped %s\n", stopped.ok() && stopped->clean() ? "clean" : "badly");
  return 0;
}

// Starts a fixture in each mode in FIXTURE_TEST_SOCKET_DIR, prints
// "fork_server=PID exec=PID inproc=PID" and waits; a line "abort" on stdin
// makes it abort() (without a core file), anything else it waits out until
// a signal ends it.
int RunDie() {
  const char* base = getenv(kSocketDirEnv);
  std::vector<Fixture> fixtures;
  std::string line = absl::StrCat("fork_server=", ForkServerPid());
  for (Mode mode : {Mode::kExec, Mode::kInProcess}) {
    FixtureOptions options = KvOptions(mode, ModeName(mode));
    if (base != nullptr) options.socket_dir = base;
    absl::StatusOr<Fixture> kv = Fixture::Start(options);
    if (!kv.ok()) {
      printf("error %s\n", absl::CEscape(kv.status().ToString()).c_str());
      return 1;
    }
    absl::StrAppend(&line, " ", mode == Mode::kExec ? "exec" : "inproc", "=", kv->pid());
    fixtures.push_back(*std::move(kv));
  }
  printf("%s\n", line.c_str());
  fflush(stdout);
  char said[16] = {};
  ssize_t n;
  do {
    n = read(STDIN_FILENO, said, sizeof said - 1);
  } while (n < 0 && errno == EINTR);
  if (absl::StartsWith(said, "abort")) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    abort();
  }
  for (;;) pause();
}

// --- The test's side -------------------------------------------------------------------

// What a report role said: an address, or the error it got (with its Failure).
struct Report {
  std::string address;
  absl::Status error;
};

absl::StatusOr<Report> RunReportRole(const std::vector<std::string>& env, const std::vector<std::string>& unset = {}) {
  absl::StatusOr<RoleProcess> role = SpawnRole(kReportRole, env, unset);
  if (!role.ok()) return role.status();
  absl::StatusOr<std::string> line = ReadLine(role->from_stdout.get(), absl::Now() + absl::Seconds(60));
  absl::StatusOr<ExitInfo> end = line.ok() ? WaitForRole(*role) : KillAndReap(role->pid);
  if (!line.ok()) return line.status();
  if (!end.ok()) return end.status();
  std::vector<std::string> words = absl::StrSplit(*line, ' ');
  if (words.size() == 2 && words[0] == "ok") return Report{words[1], absl::OkStatus()};
  int code;
  if (words.size() == 4 && words[0] == "error" && absl::SimpleAtoi(words[1], &code)) {
    Report report;
    report.error = absl::Status(static_cast<absl::StatusCode>(code), absl::HexStringToBytes(words[2]));
    if (words[3] != "-") report.error.SetPayload(kFailureTypeUrl, absl::Cord(absl::HexStringToBytes(words[3])));
    return report;
  }
  return absl::InternalError(absl::StrCat("the role said \"", *line, "\" and ", end->ToString()));
}

// `path` resolved (the roles' getcwd(3) returns resolved paths).
std::string Real(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

// A directory named `name` in `parent`, made now; its path.
std::string MakeDir(const std::string& parent, const std::string& name) {
  std::string path = absl::StrCat(parent, "/", name);
  mkdir(path.c_str(), 0700);
  return path;
}

// The prefix every control address in base `base` has.
std::string UnderBase(const std::string& base) { return absl::StrCat("unix:", base, "/", kPrivateDirPrefix); }

class SocketDirBaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(SocketBase scratch, SocketBase::Create());
    scratch_ = std::make_unique<SocketBase>(std::move(scratch));
    root_ = Real(scratch_->path());
    test_tmpdir_ = MakeDir(root_, "test_tmpdir");
    tmpdir_ = MakeDir(root_, "tmpdir");
  }
  // SocketBase removes one level of directories: the deeper ones go here.
  void TearDown() override {
    for (auto dir = nested_.rbegin(); dir != nested_.rend(); ++dir) rmdir(dir->c_str());
  }

  // A directory in `parent` whose path is too long for a socket path inside
  // (107 bytes).
  std::string TooLongDir(const std::string& parent) {
    return nested_.emplace_back(MakeDir(parent, std::string(100, 'L')));
  }

  std::vector<std::string> nested_;
  std::unique_ptr<SocketBase> scratch_;
  std::string root_, test_tmpdir_, tmpdir_;
};

TEST_F(SocketDirBaseTest, TmpdirIsTheBaseWhenTestTmpdirIsUnset) {
  ASSERT_OK_AND_ASSIGN(Report report, RunReportRole({absl::StrCat("TMPDIR=", tmpdir_)}, {"TEST_TMPDIR"}));
  ASSERT_OK(report.error);
  EXPECT_THAT(report.address, StartsWith(UnderBase(tmpdir_)));
  EXPECT_THAT(ListDir(tmpdir_), IsEmpty()) << "the directory is removed with the stop";
}

TEST_F(SocketDirBaseTest, TmpdirIsTheBaseWhenTestTmpdirIsEmptyOrTooLongForASocketPath) {
  for (const std::string& test_tmpdir : {std::string(), TooLongDir(test_tmpdir_)}) {
    SCOPED_TRACE(absl::StrCat("TEST_TMPDIR=", test_tmpdir));
    ASSERT_OK_AND_ASSIGN(Report report,
                         RunReportRole({absl::StrCat("TEST_TMPDIR=", test_tmpdir), absl::StrCat("TMPDIR=", tmpdir_)}));
    ASSERT_OK(report.error);
    EXPECT_THAT(report.address, StartsWith(UnderBase(tmpdir_)));
  }
}

TEST_F(SocketDirBaseTest, TestTmpdirComesFirstWhenASocketPathFitsThere) {
  ASSERT_OK_AND_ASSIGN(Report report,
                       RunReportRole({absl::StrCat("TEST_TMPDIR=", test_tmpdir_), absl::StrCat("TMPDIR=", tmpdir_)}));
  ASSERT_OK(report.error);
  EXPECT_THAT(report.address, StartsWith(UnderBase(test_tmpdir_)));
}

TEST_F(SocketDirBaseTest, SlashTmpIsTheBaseWhenNeitherFits) {
  const std::string too_long = TooLongDir(tmpdir_);
  ASSERT_OK_AND_ASSIGN(Report report,
                       RunReportRole({absl::StrCat("TEST_TMPDIR=", too_long), absl::StrCat("TMPDIR=", too_long)}));
  ASSERT_OK(report.error);
  EXPECT_THAT(report.address, StartsWith(UnderBase("/tmp")));
}

TEST_F(SocketDirBaseTest, RelativeTmpdirAndRelativeSocketDirGiveAbsoluteAddresses) {
  MakeDir(root_, "relative");
  ASSERT_OK_AND_ASSIGN(Report from_tmpdir,
                       RunReportRole({"TMPDIR=relative", absl::StrCat(kChdirEnv, "=", root_)}, {"TEST_TMPDIR"}));
  ASSERT_OK(from_tmpdir.error);
  EXPECT_THAT(from_tmpdir.address, StartsWith(UnderBase(absl::StrCat(root_, "/relative"))));

  ASSERT_OK_AND_ASSIGN(Report from_option,
                       RunReportRole({absl::StrCat(kSocketDirEnv, "=relative"), absl::StrCat(kChdirEnv, "=", root_)}));
  ASSERT_OK(from_option.error);
  EXPECT_THAT(from_option.address, StartsWith(UnderBase(absl::StrCat(root_, "/relative"))));
}

TEST_F(SocketDirBaseTest, MissingTmpdirFailsNamingTmpdirNotTheOption) {
  const std::string missing = absl::StrCat(root_, "/missing");
  ASSERT_OK_AND_ASSIGN(Report report, RunReportRole({absl::StrCat("TMPDIR=", missing)}, {"TEST_TMPDIR"}));
  EXPECT_THAT(report.error,
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("fixture \"based\": cannot make its socket directory: "),
                             HasSubstr(absl::StrCat("mkdtemp(", missing, "/fixture-")), HasSubstr("(from TMPDIR)"),
                             HasSubstr("No such file or directory"), Not(HasSubstr("FixtureOptions.socket_dir")))));
  EXPECT_THAT(report.error, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::SYSTEM), ForField(""))));
}

TEST_F(SocketDirBaseTest, MissingTestTmpdirFailsNamingTestTmpdir) {
  const std::string missing = absl::StrCat(root_, "/missing");
  ASSERT_OK_AND_ASSIGN(Report report,
                       RunReportRole({absl::StrCat("TEST_TMPDIR=", missing), absl::StrCat("TMPDIR=", tmpdir_)}));
  EXPECT_THAT(report.error, StatusIs(absl::StatusCode::kNotFound,
                                     AllOf(HasSubstr("(from TEST_TMPDIR)"), Not(HasSubstr("FixtureOptions")))));
  EXPECT_THAT(report.error, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::SYSTEM), ForField(""))));
}

TEST_F(SocketDirBaseTest, MissingSocketDirOptionFailsNamingTheOptionEvenWithAMissingTmpdir) {
  const std::string missing = absl::StrCat(root_, "/missing");
  ASSERT_OK_AND_ASSIGN(Report report, RunReportRole({absl::StrCat(kSocketDirEnv, "=", missing),
                                                     absl::StrCat("TMPDIR=", root_, "/also_missing")},
                                                    {"TEST_TMPDIR"}));
  EXPECT_THAT(report.error,
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(StartsWith(absl::StrCat("FixtureOptions.socket_dir: mkdtemp(", missing, "/fixture-")),
                             Not(HasSubstr("(from ")), Not(HasSubstr("also_missing")))));
  EXPECT_THAT(report.error,
              CarriesFailure(AllOf(FailureAt(v1::Failure::OPTIONS, v1::Failure::SYSTEM), ForField("socket_dir"))));
}

// --- Abandoned directories --------------------------------------------------------------

// The sweep's minimum age, in whole seconds of st_ctime (PrivateDir::SweepAbandoned).
constexpr int kSweepMinAgeSeconds = 5;

// A hold role started in `mode` with its fixture in `base`.
struct Holder {
  RoleProcess role;
  pid_t server = -1;
  std::string dir;  // Its private directory.
};

absl::StatusOr<Holder> StartHolder(Mode mode, const std::string& base) {
  absl::StatusOr<RoleProcess> role =
      SpawnRole(kHoldRole, {absl::StrCat(kSocketDirEnv, "=", base), absl::StrCat(kModeEnv, "=", ModeName(mode))});
  if (!role.ok()) return role.status();
  Holder holder{std::move(*role)};
  absl::StatusOr<std::string> line = ReadLine(holder.role.from_stdout.get(), absl::Now() + absl::Seconds(60));
  std::vector<std::string> words;
  if (line.ok()) words = absl::StrSplit(*line, ' ');
  if (words.size() != 2 || !absl::SimpleAtoi(words[0], &holder.server)) {
    KillAndReap(holder.role.pid).IgnoreError();
    return absl::InternalError(absl::StrCat("the hold role said: ", line.ok() ? *line : line.status().ToString()));
  }
  holder.dir = SocketDirOf(words[1]);
  return holder;
}

// st_ctime of `path` (the sweep's clock: the last change of the directory).
std::optional<absl::Time> ChangeTime(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return absl::FromUnixSeconds(st.st_ctim.tv_sec);
}

class AbandonedDirTest : public ::testing::TestWithParam<Mode> {};

TEST_P(AbandonedDirTest, DirectoryLeftByKilledProcessesIsSweptByTheNextStartButNoLiveOwnersIs) {
  const Mode mode = GetParam();
  ASSERT_OK_AND_ASSIGN(SocketBase scratch, SocketBase::Create());
  const std::string base = scratch.path();
  const Census before = TakeCensus(base);
  // Look-alikes the sweep must leave: the wrong length, and a file.
  MakeDir(base, "fixture-toolong1");
  ASSERT_TRUE(UniqueFd(open(absl::StrCat(base, "/fixture-afile").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)));

  // Three owners in one base: a role that will die, a role that lives on,
  // and this process.
  ASSERT_OK_AND_ASSIGN(Holder doomed, StartHolder(mode, base));
  ASSERT_OK_AND_ASSIGN(Holder survivor, StartHolder(mode, base));
  absl::Cleanup end_roles = [&] {  // Only what an assertion left running.
    for (Holder* holder : {&doomed, &survivor}) {
      if (holder->role.pid > 0) KillAndReap(holder->role.pid).IgnoreError();
    }
  };
  FixtureOptions options = KvOptions(mode, "mine");
  options.socket_dir = base;
  ASSERT_OK_AND_ASSIGN(Fixture mine, Fixture::Start(options));
  const std::string my_dir = SocketDirOf(mine.control_address());
  EXPECT_EQ(TakeCensus(base).dir_locks, 1) << "this process holds its directory locked";

  // As a sandbox teardown kills a PID namespace: no process gets to clean up
  // (the server first, so that no parent-death signal lets it stop gracefully).
  ASSERT_EQ(kill(doomed.server, SIGKILL), 0) << strerror(errno);
  ASSERT_TRUE(ExitsWithin(doomed.server, absl::Seconds(10)));
  ASSERT_EQ(kill(doomed.role.pid, SIGKILL), 0) << strerror(errno);
  ASSERT_OK_AND_ASSIGN(ExitInfo doomed_end, WaitForRole(doomed.role));
  doomed.role.pid = -1;
  EXPECT_EQ(doomed_end.ToString(), "killed by signal 9 (SIGKILL)");
  ASSERT_TRUE(PathExists(doomed.dir)) << "nobody was left to remove it";
  EXPECT_TRUE(PathExists(absl::StrCat(doomed.dir, "/", kControlSocketName)));
  std::optional<absl::Time> changed = ChangeTime(doomed.dir);
  ASSERT_TRUE(changed.has_value());

  // While it is younger than the minimum age, it stays: a directory just
  // made may not be locked by its owner yet.
  if (absl::Now() < *changed + absl::Seconds(kSweepMinAgeSeconds - 2)) {
    ASSERT_OK_AND_ASSIGN(Fixture early, Fixture::Start(options));
    EXPECT_TRUE(PathExists(doomed.dir)) << "swept before its minimum age";
    EXPECT_THAT(early.Stop(), StoppedCleanly());
  } else {
    printf("(the young-directory check is skipped: the directory is already %s old)\n",
           absl::FormatDuration(absl::Now() - *changed).c_str());
  }

  // The sweep's minimum age is a requirement, not an event: wait it out,
  // once, explicitly and bounded (st_ctime has whole seconds: one more).
  const absl::Time old_enough = *changed + absl::Seconds(kSweepMinAgeSeconds + 1);
  ASSERT_LT(old_enough - absl::Now(), absl::Seconds(kSweepMinAgeSeconds + 1));
  absl::SleepFor(old_enough - absl::Now());
  ASSERT_EQ(ChangeTime(doomed.dir), changed) << "the directory changed meanwhile";

  FixtureOptions next_options = KvOptions(mode, "next");
  next_options.socket_dir = base;
  ASSERT_OK_AND_ASSIGN(Fixture next, Fixture::Start(next_options));

  EXPECT_FALSE(PathExists(doomed.dir)) << "the directory of dead owners is left";
  // Live owners keep theirs, however old, and their servers serve on.
  EXPECT_TRUE(PathExists(survivor.dir));
  EXPECT_TRUE(PathExists(my_dir));
  EXPECT_THAT(mine.status(), IsServing());
  EXPECT_TRUE(PathExists(absl::StrCat(base, "/fixture-toolong1")));
  EXPECT_TRUE(PathExists(absl::StrCat(base, "/fixture-afile")));
  EXPECT_THAT(next.Stop(), StoppedCleanly());
  EXPECT_THAT(mine.Stop(), StoppedCleanly());

  survivor.role.to_stdin.reset();  // EOF: it stops its fixture.
  ASSERT_OK_AND_ASSIGN(std::string said, ReadLine(survivor.role.from_stdout.get(), absl::Now() + absl::Seconds(30)));
  EXPECT_EQ(said, "stopped clean");
  ASSERT_OK_AND_ASSIGN(ExitInfo survivor_end, WaitForRole(survivor.role));
  survivor.role.pid = -1;
  EXPECT_TRUE(survivor_end.success()) << survivor_end.ToString();

  rmdir(absl::StrCat(base, "/fixture-toolong1").c_str());
  unlink(absl::StrCat(base, "/fixture-afile").c_str());
  const Census after = TakeCensus(base);
  EXPECT_EQ(after.socket_dirs, before.socket_dirs) << "fixture-* directories in " << base;
  EXPECT_THAT(after.socket_dirs, IsEmpty());
  EXPECT_EQ(after.dir_locks, 0);
}

// --- A test process that dies --------------------------------------------------------

// How the test process dies: the signal that ends it.
class TestProcessDeathTest : public ::testing::TestWithParam<int> {};

TEST_P(TestProcessDeathTest, LeavesNoSocketDirectoryAndNoProcessInEitherMode) {
  const int signal = GetParam();
  Subreaper subreaper;  // The role's servers and fork server come here when it dies.
  ASSERT_TRUE(subreaper.ok()) << "PR_SET_CHILD_SUBREAPER";
  ASSERT_OK_AND_ASSIGN(SocketBase scratch, SocketBase::Create());
  const std::string base = scratch.path();
  const Census before = TakeCensus(base);

  ASSERT_OK_AND_ASSIGN(RoleProcess role, SpawnRole(kDieRole, {absl::StrCat(kSocketDirEnv, "=", base)}));
  std::map<std::string, pid_t> pids;
  std::map<std::string, UniqueFd> pidfds;
  bool role_reaped = false;
  absl::Cleanup end_all = [&] {  // Only what an assertion left running.
    if (!role_reaped) KillAndReap(role.pid).IgnoreError();
    for (const auto& [name, pid] : pids) {
      if (pidfds[name]) KillAndReap(pid).IgnoreError();
    }
  };
  ASSERT_OK_AND_ASSIGN(std::string line, ReadLine(role.from_stdout.get(), absl::Now() + absl::Seconds(60)));
  ASSERT_OK(OpenNamedPids(line, &pids, &pidfds));
  ASSERT_EQ(pids.size(), 3u) << "the role said: " << line;
  ASSERT_EQ(TakeCensus(base).socket_dirs.size(), before.socket_dirs.size() + 2) << "one directory per fixture";

  if (signal == SIGABRT) {
    ASSERT_EQ(write(role.to_stdin.get(), "abort\n", 6), 6) << strerror(errno);
  } else {
    ASSERT_EQ(kill(role.pid, signal), 0) << strerror(errno);
  }
  const absl::Time died = absl::Now();
  ASSERT_OK_AND_ASSIGN(ExitInfo role_end, WaitForRole(role));
  role_reaped = true;
  EXPECT_EQ(role_end.ToString(), absl::StrCat("killed by signal ", signal, " (", SignalName(signal), ")"));

  // Each was reparented to us; the servers stop gracefully, the fork server
  // goes by its death signal (or by EOF on its socket first).
  std::map<std::string, std::string> ends;
  for (auto& [name, pidfd] : pidfds) {
    absl::StatusOr<ExitInfo> end = AwaitAndReapOrphan(pidfd.get(), pids[name], died + absl::Seconds(10));
    ends[name] = end.ok() ? end->ToString() : end.status().ToString();
    if (end.ok()) pidfd.reset();
  }
  printf("%s: every process gone %s later\n", SignalName(signal).c_str(),
         absl::FormatDuration(absl::Now() - died).c_str());
  EXPECT_EQ(ends["exec"], "exited with status 0");
  EXPECT_EQ(ends["inproc"], "exited with status 0");
  EXPECT_THAT(ends["fork_server"], ::testing::AnyOf("killed by signal 9 (SIGKILL)", "exited with status 0"));

  const Census after = TakeCensus(base);
  EXPECT_EQ(after.socket_dirs, before.socket_dirs) << "fixture-* directories in " << base;
  EXPECT_THAT(after.socket_dirs, IsEmpty());
  EXPECT_EQ(after.process_groups, before.process_groups);
  EXPECT_EQ(after.children, before.children);
}

INSTANTIATE_TEST_SUITE_P(EveryWay, TestProcessDeathTest, ::testing::Values(SIGKILL, SIGTERM, SIGABRT),
                         [](const ::testing::TestParamInfo<int>& info) { return SignalName(info.param); });

INSTANTIATE_TEST_SUITE_P(BothModes, AbandonedDirTest, ::testing::Values(Mode::kExec, Mode::kInProcess),
                         [](const ::testing::TestParamInfo<Mode>& info) { return ModeName(info.param); });

}  // namespace
}  // namespace fixture::reliability

int main(int argc, char** argv) {
  // Before anything else: the fork server needs a single-threaded process.
  absl::Status fork_server = fixture::StartForkServer();
  if (const char* role = fixture::testing::RoleOfThisProcess(); role != nullptr) {
    const std::string name = role;
    if (name == fixture::reliability::kReportRole) return fixture::reliability::RunReport();
    if (name == fixture::reliability::kHoldRole) return fixture::reliability::RunHold();
    if (name == fixture::reliability::kDieRole) return fixture::reliability::RunDie();
    printf("unknown role %s\n", role);
    return 2;
  }
  if (!fork_server.ok()) fprintf(stderr, "no fork server: %s\n", fork_server.ToString().c_str());
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
