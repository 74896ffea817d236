// In-process servers: registered server code forked by the fork server, and
// the plain fork where it is safe. Real forks, sockets and signals.
//
// The binary is its own helper for the death-chain tests: with
// FIXTURE_TEST_ROLE set, main() plays that role instead of running tests.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/example/kv_service.h"
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "fixture/launch/exit_info.h"
#include "fixture/server/registry.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/role_process.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using fixture::example::v1::KeyValue;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Property;

FIXTURE_SERVER(InProcessKv, setup, args) {
  static fixture::example::KeyValueService kv;  // One per child process.
  setup.SetLabel("server", "kv_server");
  if (!args.empty()) setup.SetLabel("args", absl::StrJoin(args, " "));
  return setup.AddService(&kv);
}

// Reports, as labels, what it finds of these variables in its environment.
FIXTURE_SERVER(ReportsEnvironment, setup, args) {
  for (const std::string& name : args) {
    const char* value = getenv(name.c_str());
    setup.SetLabel(name, value == nullptr ? "(unset)" : value);
  }
  return absl::OkStatus();
}

// With this set, the fork server's re-executed copy of this binary exits
// before main(): WhenTheReexecutedHelperDiesBeforeServingAPlainForkServesInstead.
constexpr char kCopyDiesEnv[] = "FIXTURE_TEST_REEXECUTED_HELPER_DIES";
[[maybe_unused]] const bool copy_dies = [] {
  if (getenv(kCopyDiesEnv) != nullptr && getenv("FIXTURE_FORK_SERVER") != nullptr) _exit(42);
  return false;
}();

FIXTURE_SERVER(CrashesBeforeReady, setup, args) {
  fprintf(stderr, "CrashesBeforeReady: giving up before ready\n");
  fflush(stderr);
  abort();
}

// Put then Get of one key through `channel`: the value read back, or the error.
std::string PutGet(const std::shared_ptr<grpc::Channel>& channel, const std::string& key, const std::string& value) {
  if (absl::Status put = KvPut(channel, key, value); !put.ok()) return put.ToString();
  absl::StatusOr<std::string> got = KvGet(channel, key);
  return got.ok() ? *got : got.status().ToString();
}

// The first line a role prints, after which it is waited for.
std::string RoleSays(absl::string_view role, RoleProcess* process) {
  absl::StatusOr<RoleProcess> spawned = SpawnRole(role);
  if (!spawned.ok()) return spawned.status().ToString();
  *process = *std::move(spawned);
  absl::StatusOr<std::string> line = ReadLine(process->from_stdout.get(), absl::Now() + absl::Seconds(30));
  return line.ok() ? *line : line.status().ToString();
}

TEST(InProcess, RegisteredServerServesRealData) {
  ASSERT_OK_AND_ASSIGN(Fixture kv,
                       Fixture::Start({.name = "inproc", .program = Registered{"InProcessKv"}, .args = {"a", "b"}}));
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(status.pid(), kv.pid());
  EXPECT_NE(status.pid(), getpid());
  EXPECT_THAT(status, IsServing());
  EXPECT_EQ(status.labels().at("args"), "a b");
  EXPECT_EQ(PutGet(*kv.channel(), "k", "v"), "v");
  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, StoppedBy(StopStage::kControl));
  EXPECT_TRUE(stopped.exit.success()) << stopped.ToString();
}

// The environment the fork server's process image started with.
std::vector<std::string> ForkServerEnvironment() {
  std::ifstream environ_file(absl::StrCat("/proc/", ForkServerPid(), "/environ"));
  std::vector<std::string> variables;
  for (std::string variable; std::getline(environ_file, variable, '\0');) variables.push_back(variable);
  return variables;
}

// The fork server is this program re-executed with LD_BIND_NOW=1 (symbols
// bound once, not in every child); what it forks sees the test's environment.
TEST(InProcess, ForkServerBindsSymbolsOnceAndItsServersSeeTheTestsEnvironment) {
  if (getenv("LD_BIND_NOW") != nullptr || getenv("FIXTURE_FORK_SERVER_REEXEC") != nullptr) {
    GTEST_SKIP() << "LD_BIND_NOW or FIXTURE_FORK_SERVER_REEXEC is set for the test";
  }
  ASSERT_NE(getenv("PATH"), nullptr);
  ASSERT_OK_AND_ASSIGN(Fixture env, Fixture::Start({.name = "env",
                                                    .program = Registered{"ReportsEnvironment"},
                                                    .args = {"LD_BIND_NOW", "FIXTURE_FORK_SERVER", "PATH"}}));
  ASSERT_OK_AND_ASSIGN(v1::Status status, env.status());
  EXPECT_EQ(status.labels().at("LD_BIND_NOW"), "(unset)");
  EXPECT_EQ(status.labels().at("FIXTURE_FORK_SERVER"), "(unset)");
  EXPECT_EQ(status.labels().at("PATH"), getenv("PATH"));

  // Once it has answered, the helper is the re-executed program.
  ASSERT_GT(ForkServerPid(), 0);
  std::vector<std::string> variables = ForkServerEnvironment();
  ASSERT_FALSE(variables.empty()) << "cannot read the environment of the fork server, pid " << ForkServerPid();
  EXPECT_THAT(variables, ::testing::Contains("LD_BIND_NOW=1"));
}

// What the "helper_report" role prints, spawned with `env`.
std::string HelperReport(const std::vector<std::string>& env) {
  absl::StatusOr<RoleProcess> role = SpawnRole("helper_report", env);
  if (!role.ok()) return role.status().ToString();
  absl::StatusOr<std::string> line = ReadLine(role->from_stdout.get(), absl::Now() + absl::Seconds(30));
  absl::StatusOr<ExitInfo> ended = WaitForRole(*role);
  if (!ended.ok()) return ended.status().ToString();
  if (!ended->success()) return absl::StrCat("the role ", ended->ToString());
  return line.ok() ? *line : line.status().ToString();
}

TEST(InProcess, WithReexecutionOffTheForkedHelperServesAsItIs) {
  EXPECT_EQ(HelperReport({"FIXTURE_FORK_SERVER_REEXEC=0"}),
            "served v; helper LD_BIND_NOW=no; server LD_BIND_NOW=(unset)");
}

TEST(InProcess, WhenTheReexecutedHelperDiesBeforeServingAPlainForkServesInstead) {
  // The copy exits in a static initialiser (see kCopyDiesEnv), as one that
  // cannot load or reach StartForkServer() would.
  EXPECT_EQ(HelperReport({absl::StrCat(kCopyDiesEnv, "=1")}),
            "served v; helper LD_BIND_NOW=no; server LD_BIND_NOW=(unset)");
}

TEST(InProcess, HundredSequentialFixturesWhileTheParentRunsGrpcTraffic) {
  // Traffic on two threads against a server of its own, all along.
  ASSERT_OK_AND_ASSIGN(Fixture busy, Fixture::Start({.name = "busy", .program = Registered{"InProcessKv"}}));
  std::atomic<bool> done{false};
  std::atomic<int> calls{0}, failures{0};
  std::vector<std::thread> traffic;
  for (int t = 0; t < 2; ++t) {
    traffic.emplace_back([&, t] {
      std::shared_ptr<grpc::Channel> channel = *busy.channel();
      while (!done.load()) {
        if (PutGet(channel, absl::StrCat("t", t), "x") != "x") failures.fetch_add(1);
        calls.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    SCOPED_TRACE(absl::StrCat("fixture ", i));
    ASSERT_OK_AND_ASSIGN(Fixture kv,
                         Fixture::Start({.name = absl::StrCat("seq", i), .program = Registered{"InProcessKv"}}));
    ASSERT_EQ(PutGet(*kv.channel(), "key", absl::StrCat(i)), absl::StrCat(i));
    ASSERT_THAT(kv.Stop(), StoppedCleanly());
  }
  done.store(true);
  for (std::thread& t : traffic) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(calls.load(), 0);
  printf("parent made %d calls while 100 in-process fixtures came and went\n", calls.load());
}

TEST(InProcess, RegisteredServerThatCrashesBeforeReadyFailsTheStartWithItsStderr) {
  absl::StatusOr<Fixture> crash = Fixture::Start({.name = "crash", .program = Registered{"CrashesBeforeReady"}});
  EXPECT_THAT(crash, StatusIs(absl::StatusCode::kFailedPrecondition,
                              AllOf(HasSubstr("killed by signal 6 (SIGABRT"), HasSubstr("before it was ready"),
                                    HasSubstr("CrashesBeforeReady: giving up before ready"),
                                    HasSubstr("FIXTURE_SERVER(CrashesBeforeReady)"))));
  EXPECT_THAT(crash, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessKilledBy(SIGABRT),
                                          Property(&v1::Failure::program, "FIXTURE_SERVER(CrashesBeforeReady)"),
                                          Property(&v1::Failure::stderr_tail,
                                                   HasSubstr("CrashesBeforeReady: giving up before ready")))));
}

TEST(InProcess, UnknownServerNameIsNotFoundListingTheRegisteredOnes) {
  absl::StatusOr<Fixture> none = Fixture::Start({.name = "none", .program = Registered{"NoSuchServer"}});
  EXPECT_THAT(none, StatusIs(absl::StatusCode::kNotFound,
                             AllOf(HasSubstr("no FIXTURE_SERVER(NoSuchServer)"), HasSubstr("InProcessKv"))));
  EXPECT_THAT(none,
              CarriesFailure(AllOf(FailureAt(v1::Failure::OPTIONS, v1::Failure::NOT_FOUND), ForField("program"))));
}

TEST(InProcess, PlainForkIsRefusedOnceTheProcessHasThreadsOrUsedGrpc) {
  absl::StatusOr<Fixture> kv =
      Fixture::Start({.name = "plain", .program = PlainFork{[](server::ServerSetup&) { return absl::OkStatus(); }}});
  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr("refusing to fork without exec"), HasSubstr("FIXTURE_SERVER"),
                                 HasSubstr("//fixture:gtest_main"))));
}

TEST(InProcess, PlainForkWorksInAFreshSingleThreadedProcess) {
  RoleProcess role;
  std::string line = RoleSays("plain_fork", &role);
  absl::StatusOr<ExitInfo> ended = WaitForRole(role);
  EXPECT_EQ(line, "plain_fork: value=from-the-closure stage=control Shutdown exit=exited with status 0");
  EXPECT_THAT(ended, IsOkAndHolds(Property(&ExitInfo::ToString, "exited with status 0")));
}

TEST(InProcess, ExecAndInProcessModesGiveTheSameStatusAndStop) {
  ASSERT_OK_AND_ASSIGN(Fixture exec, Fixture::Start({.name = "exec", .program = Binary{kKvServer}}));
  ASSERT_OK_AND_ASSIGN(Fixture inproc, Fixture::Start({.name = "inproc", .program = Registered{"InProcessKv"}}));
  for (Fixture* f : {&exec, &inproc}) ASSERT_EQ(PutGet(*f->channel(), "k", "v"), "v");
  ASSERT_OK_AND_ASSIGN(v1::Status a, exec.status());
  ASSERT_OK_AND_ASSIGN(v1::Status b, inproc.status());
  EXPECT_EQ(a.state(), b.state());
  ASSERT_EQ(a.endpoints_size(), 1);
  ASSERT_EQ(b.endpoints_size(), 1);
  EXPECT_EQ(a.endpoints(0).name(), b.endpoints(0).name());
  EXPECT_EQ(a.labels().at("server"), b.labels().at("server"));
  ASSERT_EQ(a.method_calls_size(), b.method_calls_size());
  for (int i = 0; i < a.method_calls_size(); ++i) {
    EXPECT_EQ(a.method_calls(i).method(), b.method_calls(i).method());
    EXPECT_EQ(a.method_calls(i).calls(), b.method_calls(i).calls());
  }
  ASSERT_OK_AND_ASSIGN(StopResult x, exec.Stop());
  ASSERT_OK_AND_ASSIGN(StopResult y, inproc.Stop());
  EXPECT_EQ(x.stage, y.stage);
  EXPECT_EQ(x.exit.ToString(), y.exit.ToString());
  EXPECT_THAT(x, StoppedCleanly());
  EXPECT_THAT(y, StoppedCleanly());
}

TEST(InProcess, SigkillOfTheTestProcessTakesTheForkServerAndItsChildrenDown) {
  RoleProcess role;
  std::string line = RoleSays("death_chain", &role);
  std::vector<std::string> words = absl::StrSplit(line, ' ');
  ASSERT_EQ(words.size(), 4u) << "role said: " << line;
  ASSERT_EQ(words[0], "pids");
  std::vector<pid_t> pids;
  for (size_t i = 1; i < words.size(); ++i) {
    int pid;
    ASSERT_TRUE(absl::SimpleAtoi(words[i], &pid)) << line;
    pids.push_back(pid);
  }
  ASSERT_EQ(kill(role.pid, SIGKILL), 0);
  EXPECT_THAT(WaitForRole(role), IsOkAndHolds(Property(&ExitInfo::ToString, "killed by signal 9 (SIGKILL)")));
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  for (pid_t pid : pids) EXPECT_TRUE(ExitsBy(pid, deadline)) << "it survived its test process by more than 1s";
}

TEST(InProcess, WhenTheForkServerDiesTheNextStartSaysSo) {
  RoleProcess role;
  std::string line = RoleSays("fork_server_dies", &role);
  EXPECT_OK(WaitForRole(role));
  EXPECT_THAT(line, HasSubstr("code=FAILED_PRECONDITION"));
  EXPECT_THAT(line, HasSubstr("killed by signal 9 (SIGKILL)"));
  EXPECT_THAT(line, HasSubstr("in-process servers cannot start in this process any more"));
}

// --- Roles ----------------------------------------------------------------------------

// An in-process server works, and says whether the helper is the
// re-executed copy (LD_BIND_NOW=1 in its environment) or a plain fork.
int HelperReportRole() {
  absl::StatusOr<Fixture> kv = Fixture::Start({.name = "noreexec", .program = Registered{"InProcessKv"}});
  absl::StatusOr<Fixture> env =
      Fixture::Start({.name = "env", .program = Registered{"ReportsEnvironment"}, .args = {"LD_BIND_NOW"}});
  if (!kv.ok() || !env.ok()) {
    printf("start failed: %s %s\n", kv.status().ToString().c_str(), env.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> helper_env = ForkServerEnvironment();
  bool bind_now = std::find(helper_env.begin(), helper_env.end(), "LD_BIND_NOW=1") != helper_env.end();
  absl::StatusOr<fixture::v1::Status> status = env->status();
  printf("served %s; helper LD_BIND_NOW=%s; server LD_BIND_NOW=%s\n", PutGet(*kv->channel(), "k", "v").c_str(),
         bind_now ? "yes" : "no", status.ok() ? status->labels().at("LD_BIND_NOW").c_str() : "?");
  return 0;
}

int PlainForkRole() {
  std::string value = "from-the-closure";
  fixture::example::KeyValueService kv;
  absl::StatusOr<Fixture> f =
      Fixture::Start({.name = "plain", .program = PlainFork{[&](server::ServerSetup& setup) {
                                         setup.SetLabel("value", value);  // A closure, captured by reference.
                                         return setup.AddService(&kv);
                                       }}});
  if (!f.ok()) {
    printf("plain_fork: %s\n", f.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<fixture::v1::Status> status = f->status();
  absl::StatusOr<fixture::StopResult> stopped = f->Stop();
  if (!status.ok() || !stopped.ok()) return 1;
  printf("plain_fork: value=%s stage=%s exit=%s\n", status->labels().at("value").c_str(), stopped->how().c_str(),
         stopped->exit.ToString().c_str());
  return 0;
}

int DeathChainRole() {
  std::vector<fixture::Fixture> fixtures;
  for (const char* name : {"one", "two"}) {
    absl::StatusOr<Fixture> f = Fixture::Start({.name = name, .program = Registered{"InProcessKv"}});
    if (!f.ok()) {
      printf("error %s\n", f.status().ToString().c_str());
      return 1;
    }
    fixtures.push_back(*std::move(f));
  }
  printf("pids %d %d %d\n", fixture::ForkServerPid(), fixtures[0].pid(), fixtures[1].pid());
  fflush(stdout);
  for (;;) pause();  // Until the test kills us.
}

int ForkServerDiesRole() {
  kill(fixture::ForkServerPid(), SIGKILL);
  absl::StatusOr<Fixture> f = Fixture::Start({.name = "late", .program = Registered{"InProcessKv"}});
  printf("code=%s %s\n", absl::StatusCodeToString(f.status().code()).c_str(),
         std::string(f.status().message()).c_str());
  return 0;
}

}  // namespace
}  // namespace fixture::testing

int main(int argc, char** argv) {
  absl::Status fork_server = fixture::StartForkServer();
  const char* role = fixture::testing::RoleOfThisProcess();
  if (role != nullptr) {
    std::string r = role;
    if (r == "plain_fork") return fixture::testing::PlainForkRole();
    if (!fork_server.ok()) {
      printf("error %s\n", fork_server.ToString().c_str());
      return 1;
    }
    if (r == "death_chain") return fixture::testing::DeathChainRole();
    if (r == "fork_server_dies") return fixture::testing::ForkServerDiesRole();
    if (r == "helper_report") return fixture::testing::HelperReportRole();
    printf("unknown role %s\n", role);
    return 2;
  }
  if (!fork_server.ok()) fprintf(stderr, "%s\n", fork_server.ToString().c_str());
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
