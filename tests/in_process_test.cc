// In-process servers: registered server code forked by the fork server, and
// the plain fork where it is safe. Real forks, sockets and signals.
//
// The binary is its own helper for the death-chain tests: with
// FIXTURE_TEST_ROLE set, main() plays that role instead of running tests.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "example/kv.grpc.pb.h"
#include "example/kv_service.h"
#include "server/registry.h"
#include "tests/role_process.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::HasSubstr;
using fixture::example::v1::KeyValue;

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

// True if `pid` exits within `timeout` (or is already gone).
bool GoneWithin(pid_t pid, absl::Duration timeout) {
  absl::StatusOr<bool> exited = AwaitExit(pid, absl::Now() + timeout);
  return exited.ok() && *exited;
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
  absl::StatusOr<fixture::Fixture> kv =
      fixture::Fixture::Start({.name = "inproc", .program = fixture::Registered{"InProcessKv"}, .args = {"a", "b"}});
  ASSERT_TRUE(kv.ok()) << kv.status();
  absl::StatusOr<fixture::v1::Status> status = kv->status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->pid(), kv->pid());
  EXPECT_NE(status->pid(), getpid());
  EXPECT_EQ(status->state(), fixture::v1::SERVING);
  EXPECT_EQ(status->labels().at("args"), "a b");
  EXPECT_EQ(PutGet(*kv->channel(), "k", "v"), "v");
  absl::StatusOr<fixture::StopResult> stopped = kv->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->stage, fixture::StopStage::kControl) << stopped->ToString();
  EXPECT_TRUE(stopped->exit.success()) << stopped->ToString();
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
  absl::StatusOr<fixture::Fixture> env = fixture::Fixture::Start(
      {.name = "env", .program = fixture::Registered{"ReportsEnvironment"}, .args = {"LD_BIND_NOW", "FIXTURE_FORK_SERVER", "PATH"}});
  ASSERT_TRUE(env.ok()) << env.status();
  absl::StatusOr<fixture::v1::Status> status = env->status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->labels().at("LD_BIND_NOW"), "(unset)");
  EXPECT_EQ(status->labels().at("FIXTURE_FORK_SERVER"), "(unset)");
  EXPECT_EQ(status->labels().at("PATH"), getenv("PATH"));

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
  int status = WaitForRole(*role);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return absl::StrCat("role ended with wait status ", status);
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
  absl::StatusOr<fixture::Fixture> busy = fixture::Fixture::Start({.name = "busy", .program = fixture::Registered{"InProcessKv"}});
  ASSERT_TRUE(busy.ok()) << busy.status();
  std::atomic<bool> done{false};
  std::atomic<int> calls{0}, failures{0};
  std::vector<std::thread> traffic;
  for (int t = 0; t < 2; ++t) {
    traffic.emplace_back([&, t] {
      std::shared_ptr<grpc::Channel> channel = *busy->channel();
      while (!done.load()) {
        if (PutGet(channel, absl::StrCat("t", t), "x") != "x") failures.fetch_add(1);
        calls.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<fixture::Fixture> kv =
        fixture::Fixture::Start({.name = absl::StrCat("seq", i), .program = fixture::Registered{"InProcessKv"}});
    ASSERT_TRUE(kv.ok()) << "fixture " << i << ": " << kv.status();
    ASSERT_EQ(PutGet(*kv->channel(), "key", absl::StrCat(i)), absl::StrCat(i)) << "fixture " << i;
    absl::StatusOr<fixture::StopResult> stopped = kv->Stop();
    ASSERT_TRUE(stopped.ok()) << stopped.status();
    ASSERT_TRUE(stopped->clean()) << "fixture " << i << ": " << stopped->ToString();
  }
  done.store(true);
  for (std::thread& t : traffic) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(calls.load(), 0);
  printf("parent made %d calls while 100 in-process fixtures came and went\n", calls.load());
}

TEST(InProcess, RegisteredServerThatCrashesBeforeReadyFailsTheStartWithItsStderr) {
  absl::StatusOr<fixture::Fixture> crash = fixture::Fixture::Start({.name = "crash", .program = fixture::Registered{"CrashesBeforeReady"}});
  ASSERT_EQ(crash.status().code(), absl::StatusCode::kFailedPrecondition) << crash.status();
  EXPECT_THAT(crash.status().message(), HasSubstr("killed by signal 6 (SIGABRT"));
  EXPECT_THAT(crash.status().message(), HasSubstr("before it was ready"));
  EXPECT_THAT(crash.status().message(), HasSubstr("CrashesBeforeReady: giving up before ready"));
  EXPECT_THAT(crash.status().message(), HasSubstr("FIXTURE_SERVER(CrashesBeforeReady)"));
}

TEST(InProcess, UnknownServerNameIsNotFoundListingTheRegisteredOnes) {
  absl::StatusOr<fixture::Fixture> none = fixture::Fixture::Start({.name = "none", .program = fixture::Registered{"NoSuchServer"}});
  ASSERT_EQ(none.status().code(), absl::StatusCode::kNotFound) << none.status();
  EXPECT_THAT(none.status().message(), HasSubstr("no FIXTURE_SERVER(NoSuchServer)"));
  EXPECT_THAT(none.status().message(), HasSubstr("InProcessKv"));
}

TEST(InProcess, PlainForkIsRefusedOnceTheProcessHasThreadsOrUsedGrpc) {
  absl::StatusOr<fixture::Fixture> kv = fixture::Fixture::Start(
      {.name = "plain", .plain_fork = [](fixture::server::ServerSetup&) { return absl::OkStatus(); }});
  ASSERT_EQ(kv.status().code(), absl::StatusCode::kFailedPrecondition) << kv.status();
  EXPECT_THAT(kv.status().message(), HasSubstr("refusing to fork without exec"));
  EXPECT_THAT(kv.status().message(), HasSubstr("FIXTURE_SERVER"));
  EXPECT_THAT(kv.status().message(), HasSubstr("//fixture:gtest_main"));
}

TEST(InProcess, PlainForkWorksInAFreshSingleThreadedProcess) {
  RoleProcess role;
  std::string line = RoleSays("plain_fork", &role);
  int status = WaitForRole(role);
  EXPECT_EQ(line, "plain_fork: value=from-the-closure stage=control Shutdown exit=exited with status 0");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(InProcess, ExecAndInProcessModesGiveTheSameStatusAndStop) {
  absl::StatusOr<fixture::Fixture> exec = fixture::Fixture::Start({.name = "exec", .program = fixture::Binary{"example/kv_server"}});
  ASSERT_TRUE(exec.ok()) << exec.status();
  absl::StatusOr<fixture::Fixture> inproc = fixture::Fixture::Start({.name = "inproc", .program = fixture::Registered{"InProcessKv"}});
  ASSERT_TRUE(inproc.ok()) << inproc.status();
  for (fixture::Fixture* f : {&*exec, &*inproc}) ASSERT_EQ(PutGet(*f->channel(), "k", "v"), "v");
  absl::StatusOr<fixture::v1::Status> a = exec->status();
  absl::StatusOr<fixture::v1::Status> b = inproc->status();
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_EQ(a->state(), b->state());
  ASSERT_EQ(a->endpoints_size(), 1);
  ASSERT_EQ(b->endpoints_size(), 1);
  EXPECT_EQ(a->endpoints(0).name(), b->endpoints(0).name());
  EXPECT_EQ(a->labels().at("server"), b->labels().at("server"));
  ASSERT_EQ(a->method_calls_size(), b->method_calls_size());
  for (int i = 0; i < a->method_calls_size(); ++i) {
    EXPECT_EQ(a->method_calls(i).method(), b->method_calls(i).method());
    EXPECT_EQ(a->method_calls(i).calls(), b->method_calls(i).calls());
  }
  absl::StatusOr<fixture::StopResult> x = exec->Stop();
  absl::StatusOr<fixture::StopResult> y = inproc->Stop();
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(x->stage, y->stage);
  EXPECT_EQ(x->exit.ToString(), y->exit.ToString());
  EXPECT_TRUE(x->clean() && y->clean()) << x->ToString() << "\n" << y->ToString();
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
  int status = WaitForRole(role);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  absl::Time deadline = absl::Now() + absl::Seconds(1);
  for (pid_t pid : pids) {
    EXPECT_TRUE(GoneWithin(pid, std::max(deadline - absl::Now(), absl::ZeroDuration())))
        << "pid " << pid << " survived its test process by more than 1s";
  }
}

TEST(InProcess, WhenTheForkServerDiesTheNextStartSaysSo) {
  RoleProcess role;
  std::string line = RoleSays("fork_server_dies", &role);
  WaitForRole(role);
  EXPECT_THAT(line, HasSubstr("code=FAILED_PRECONDITION"));
  EXPECT_THAT(line, HasSubstr("killed by signal 9 (SIGKILL)"));
  EXPECT_THAT(line, HasSubstr("in-process servers cannot start in this process any more"));
}

// --- Roles ----------------------------------------------------------------------------

// An in-process server works, and says whether the helper is the
// re-executed copy (LD_BIND_NOW=1 in its environment) or a plain fork.
int HelperReportRole() {
  absl::StatusOr<fixture::Fixture> kv = fixture::Fixture::Start({.name = "noreexec", .program = fixture::Registered{"InProcessKv"}});
  absl::StatusOr<fixture::Fixture> env =
      fixture::Fixture::Start({.name = "env", .program = fixture::Registered{"ReportsEnvironment"}, .args = {"LD_BIND_NOW"}});
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
  absl::StatusOr<fixture::Fixture> f =
      fixture::Fixture::Start({.name = "plain", .plain_fork = [&](fixture::server::ServerSetup& setup) {
                                 setup.SetLabel("value", value);  // A closure, captured by reference.
                                 return setup.AddService(&kv);
                               }});
  if (!f.ok()) {
    printf("plain_fork: %s\n", f.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<fixture::v1::Status> status = f->status();
  absl::StatusOr<fixture::StopResult> stopped = f->Stop();
  if (!status.ok() || !stopped.ok()) return 1;
  printf("plain_fork: value=%s stage=%s exit=%s\n", status->labels().at("value").c_str(),
         stopped->how().c_str(), stopped->exit.ToString().c_str());
  return 0;
}

int DeathChainRole() {
  std::vector<fixture::Fixture> fixtures;
  for (const char* name : {"one", "two"}) {
    absl::StatusOr<fixture::Fixture> f = fixture::Fixture::Start({.name = name, .program = fixture::Registered{"InProcessKv"}});
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
  absl::StatusOr<fixture::Fixture> f = fixture::Fixture::Start({.name = "late", .program = fixture::Registered{"InProcessKv"}});
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
