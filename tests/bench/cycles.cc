#include "tests/bench/cycles.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/child_process.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/example/kv_service.h"
#include "fixture/executable_path.h"
#include "fixture/fixture.h"
#include "fixture/launch/environment.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/launch_spec.h"
#include "fixture/server/registry.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include <netinet/in.h>

extern char** environ;

// The in-process server of the fork_server mode: the same service kv_server
// serves, with the same label.
FIXTURE_SERVER(BenchKv, setup, args) {
  static fixture::example::KeyValueService kv;  // One per child process.
  setup.SetLabel("server", "kv_server");
  setup.OnReset([] {  // As kv_server's: the suite's SharedFixture run resets it after each test.
    kv.Clear();
    return absl::OkStatus();
  });
  return setup.AddService(&kv);
}

namespace fixture::bench {
namespace {

// How long a polling baseline waits for its server's port, and for its exit
// after SIGINT.
constexpr absl::Duration kPollReadyTimeout = absl::Seconds(10);
constexpr absl::Duration kSignalStopTimeout = absl::Seconds(10);

// The baselines and the floors run standalone: no launch protocol.
EnvironmentChange Standalone() {
  EnvironmentChange change;
  change.unset_prefixes = {"FIXTURE_"};
  return change;
}

// VmHWM of /proc/<pid>/status, in KiB; -1 if unknown.
long PeakRssKb(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    absl::string_view value(line);
    long kb;
    if (absl::ConsumePrefix(&value, "VmHWM:") &&
        absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(value), " kB"), &kb)) {
      return kb;
    }
  }
  return -1;
}

// --- The fixture modes ------------------------------------------------------------------

// The running fixture's part of a cycle: a Put on a new channel, GetStatus
// (the first call, which connects, then --status_calls warm ones), the peak
// RSS.
absl::Status UseFixture(const Context& ctx, Fixture& f, Samples* cycle) {
  Clock::time_point t = Clock::now();
  absl::StatusOr<std::string> endpoint = f.endpoint();
  if (!endpoint.ok()) return endpoint.status();
  if (absl::Status put = Put(grpc::CreateChannel(*endpoint, grpc::InsecureChannelCredentials())); !put.ok()) {
    return put;
  }
  cycle->Add(Figure::kFirstRpc, MicrosSince(t));

  for (int i = 0; i <= ctx.status_calls; ++i) {
    t = Clock::now();
    absl::StatusOr<fixture::v1::Status> status = f.status();
    if (!status.ok()) return status.status();
    cycle->Add(i == 0 ? Figure::kControlStatusCold : Figure::kControlStatus, MicrosSince(t));
    if (status->state() != fixture::v1::SERVING) {
      return absl::InternalError(absl::StrCat("GetStatus: state ", fixture::v1::State_Name(status->state())));
    }
  }
  cycle->AddRssKb(PeakRssKb(f.pid()));
  return absl::OkStatus();
}

// Start, UseFixture, a clean Stop by the control Shutdown.
absl::Status FixtureCycle(const Context& ctx, const Mode& mode, Samples* cycle) {
  FixtureOptions options = BenchKvOptions(ctx, mode.name, mode.kind == Kind::kForkServer);
  const Clock::time_point start = Clock::now();
  absl::StatusOr<Fixture> f = Fixture::Start(std::move(options));
  if (!f.ok()) return f.status();
  cycle->Add(Figure::kStartToReady, MicrosSince(start));
  // The library's own timeline: Launch() began (after the option checks, the
  // private dir and the log files), fork returned (for the fork server: its
  // reply arrived), the ReadyNotice arrived.
  const Timeline& timeline = f->timeline();
  cycle->Add(Figure::kStartToFork, absl::ToDoubleMicroseconds(timeline.forked - timeline.start));
  cycle->Add(Figure::kForkToReady, absl::ToDoubleMicroseconds(timeline.fork_to_ready()));

  if (absl::Status used = UseFixture(ctx, *f, cycle); !used.ok()) return used;

  const Clock::time_point stop = Clock::now();
  absl::StatusOr<StopResult> stopped = f->Stop();
  const Clock::time_point end = Clock::now();
  if (!stopped.ok()) return stopped.status();
  if (stopped->stage != StopStage::kControl || !stopped->clean()) {
    return absl::InternalError(absl::StrCat("stop not clean: ", stopped->ToString()));
  }
  cycle->Add(Figure::kStop, MicrosBetween(stop, end));
  cycle->Add(Figure::kFullCycle, MicrosBetween(start, end));
  return absl::OkStatus();
}

// --- The polling baseline ---------------------------------------------------------------

struct sockaddr_in Loopback(int port) {
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// A free TCP port on 127.0.0.1 the polling tools' way: bind port 0, read the
// port, close. Someone else may bind it before the server does: the race the
// fixture avoids (its server binds port 0 itself and reports the port).
absl::StatusOr<int> PickFreePort() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus(errno, "socket()");
  struct sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof addr;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoStatus(errno, "bind/getsockname(127.0.0.1:0)");
  }
  return ntohs(addr.sin_port);
}

// True if something accepts TCP connections on 127.0.0.1:port.
bool PortAnswers(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  struct sockaddr_in addr = Loopback(port);
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// kv_server on 127.0.0.1:port, standalone: no control socket, no readiness
// pipe; stdio on /dev/null.
absl::StatusOr<ChildProcess> ExecKvServer(const Context& ctx, int port) {
  LaunchSpec spec;
  spec.program = Binary{ctx.kv_server};
  spec.args = {absl::StrCat("--address=127.0.0.1:", port)};
  spec.env = Standalone();
  return ChildProcess::Exec(spec);
}

// connect() every `interval` until the port answers. FailedPrecondition if
// the server exits first, DeadlineExceeded after kPollReadyTimeout.
absl::Status AwaitPort(ChildProcess& server, int port, absl::Duration interval) {
  const absl::Time deadline = absl::Now() + kPollReadyTimeout;
  while (!PortAnswers(port)) {
    // The pause between two tries, cut short if the server exits.
    absl::StatusOr<std::optional<ExitInfo>> exit = server.WaitUntil(std::min(absl::Now() + interval, deadline));
    if (!exit.ok()) return exit.status();
    if (exit->has_value()) {
      return absl::FailedPreconditionError(absl::StrCat("kv_server on port ", port, " ", (*exit)->ToString(),
                                                        " before its port answered (status 1: the port was "
                                                        "taken meanwhile)"));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("port ", port, " did not answer within ", absl::FormatDuration(kPollReadyTimeout)));
    }
  }
  return absl::OkStatus();
}

// Sends `signal` and waits for the exit (SIGKILL by ChildProcess's
// destructor if it does not come).
absl::StatusOr<ExitInfo> StopBySignal(ChildProcess& server, int signal) {
  if (absl::Status sent = server.Signal(signal); !sent.ok()) return sent;
  absl::StatusOr<std::optional<ExitInfo>> exit = server.WaitUntil(absl::Now() + kSignalStopTimeout);
  if (!exit.ok()) return exit.status();
  if (!exit->has_value()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "pid ", server.pid(), " still runs ", absl::FormatDuration(kSignalStopTimeout), " after ", SignalName(signal)));
  }
  return **exit;
}

absl::Status FalseReady(int port, const absl::Status& put, const ExitInfo& exit) {
  // Our kv_server did not serve that port when the poller said ready: it
  // could not bind it (status 1), had not even installed its SIGINT handling
  // (killed by SIGINT), or the Put found nobody there.
  return absl::FailedPreconditionError(absl::StrCat(
      "port ", port, " answered the poller, but ",
      put.ok() ? "" : absl::StrCat("the Put failed (", put.message(), ") and "), "kv_server ", exit.ToString(),
      " after SIGINT: the poller reached another process's socket on that port (the port race) or its own "
      "(a TCP self-connect)"));
}

// StartPolled, Put on a new channel, SIGINT, reap.
absl::Status PollCycle(const Context& ctx, Mode& mode, Samples* cycle) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<PolledKv> server = StartPolled(ctx, absl::Milliseconds(mode.poll_ms));
  if (!server.ok()) {
    if (absl::IsFailedPrecondition(server.status())) ++mode.died_before_ready;
    return server.status();
  }
  cycle->Add(Figure::kStartToReady, MicrosSince(start));

  Clock::time_point t = Clock::now();
  absl::Status put = Put(grpc::CreateChannel(server->target(), grpc::InsecureChannelCredentials()));
  cycle->Add(Figure::kFirstRpc, MicrosSince(t));
  cycle->AddRssKb(PeakRssKb(server->process.pid()));

  t = Clock::now();
  absl::StatusOr<ExitInfo> exit = StopBySignal(server->process, SIGINT);
  const Clock::time_point end = Clock::now();
  if (!exit.ok()) return exit.status();
  if (!put.ok() || !exit->success()) {
    ++mode.false_ready;
    return FalseReady(server->port, put, *exit);
  }
  cycle->Add(Figure::kStop, MicrosBetween(t, end));
  cycle->Add(Figure::kFullCycle, MicrosBetween(start, end));
  return absl::OkStatus();
}

// --- The warm pool ----------------------------------------------------------------------

// Waits until the pool holds `size` ready spares and stops nothing (at most 30 s).
absl::Status AwaitIdle(const FixturePool& pool, int size) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (pool.ready() < size || pool.stopping() > 0) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("the pool did not refill within 30 s: ", pool.ready(), " of ",
                                                      size, " ready, ", pool.stopping(), " stopping"));
    }
    absl::SleepFor(absl::Microseconds(200));
  }
  return absl::OkStatus();
}

// Acquire (the pool is full: the last cycle waited for its refill), Put on
// the warm channel, Release (the stop is the pool's, in the background).
// Then, unmeasured, the wait until the pool is full and idle again.
absl::Status PoolCycle(const Context& ctx, Samples* cycle) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<PooledFixture> kv = ctx.pool->Acquire(absl::Seconds(30));
  if (!kv.ok()) return kv.status();
  cycle->Add(Figure::kStartToReady, MicrosSince(start));
  Clock::time_point t = Clock::now();
  if (absl::Status put = Put(kv->channel); !put.ok()) return put;
  cycle->Add(Figure::kFirstRpc, MicrosSince(t));
  cycle->AddRssKb(PeakRssKb(kv->fixture.pid()));
  kv->channel.reset();
  t = Clock::now();
  ctx.pool->Release(std::move(kv->fixture));
  const Clock::time_point end = Clock::now();
  cycle->Add(Figure::kStop, MicrosBetween(t, end));
  cycle->Add(Figure::kFullCycle, MicrosBetween(start, end));
  return AwaitIdle(*ctx.pool, ctx.pool_size);
}

// --- The in-process anchor --------------------------------------------------------------

// StartInProcess, Put (on a new channel to the port, or on the in-process
// channel), StopInProcess.
absl::Status InProcessCycle(const Mode& mode, Samples* cycle) {
  const bool with_port = mode.kind == Kind::kInProcessGrpc;
  const Clock::time_point start = Clock::now();
  absl::StatusOr<InProcessKv> kv = StartInProcess(with_port);
  if (!kv.ok()) return kv.status();
  cycle->Add(Figure::kStartToReady, MicrosSince(start));
  Clock::time_point t = Clock::now();
  absl::Status put =
      Put(with_port ? grpc::CreateChannel(absl::StrCat("127.0.0.1:", kv->port), grpc::InsecureChannelCredentials())
                    : kv->server->InProcessChannel(grpc::ChannelArguments()));
  cycle->Add(Figure::kFirstRpc, MicrosSince(t));
  t = Clock::now();
  StopInProcess(*kv);
  const Clock::time_point end = Clock::now();
  if (!put.ok()) return put;
  cycle->Add(Figure::kStop, MicrosBetween(t, end));
  cycle->Add(Figure::kFullCycle, MicrosBetween(start, end));
  return absl::OkStatus();
}

// --- The floors -------------------------------------------------------------------------

// What a process costs at all. The child's peak RSS is wait4's ru_maxrss: the
// forked copy of this (gRPC-linked) process's page tables.
absl::Status FloorCycle(const Context& ctx, const Mode& mode, Samples* cycle) {
  static char true_path[] = "/bin/true";
  char* argv[] = {true_path, nullptr};
  std::vector<char*> envp;
  for (const std::string& e : ctx.environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const bool exec = mode.kind == Kind::kFloorExecTrue;

  const Clock::time_point start = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    if (exec) execve(true_path, argv, envp.data());
    _exit(exec ? 127 : 0);
  }
  if (pid < 0) return ErrnoStatus(errno, "fork()");
  struct rusage usage = {};
  absl::StatusOr<ExitInfo> exit = Reap(pid, &usage);
  const Clock::time_point end = Clock::now();
  if (!exit.ok()) return exit.status();
  if (!exit->success()) return absl::InternalError(absl::StrCat("child ", exit->ToString()));
  cycle->Add(Figure::kFullCycle, MicrosBetween(start, end));
  cycle->AddRssKb(usage.ru_maxrss);
  return absl::OkStatus();
}

Mode PollMode(int ms) {
  return {absl::StrCat("poll_", ms, "ms"),
          absl::StrCat("fork+exec kv_server on a picked port; connect() poll every ", ms, " ms; SIGINT"), Kind::kPoll,
          ms};
}

}  // namespace

std::vector<Mode> AllModes() {
  return {
      {"fork_server", "FixtureOptions.program = Registered{BenchKv}: forked by the fork server; readiness pipe",
       Kind::kForkServer},
      {"exec", "FixtureOptions.program = Binary{example/kv_server}: fork+exec; readiness pipe", Kind::kExec},
      {"pool",
       "FixturePool of Registered{BenchKv}: Acquire, Put on the warm channel, Release (stopped in the background); "
       "the pool refills between cycles",
       Kind::kPool},
      PollMode(1),
      PollMode(10),
      PollMode(100),
      {"in_process_grpc",
       "grpc::Server in this process on 127.0.0.1:0: build+start, Put on a new channel, Shutdown+Wait (the anchor)",
       Kind::kInProcessGrpc},
      {"in_process_channel", "the same with no port: Put over grpc::Server::InProcessChannel", Kind::kInProcessChannel},
      {"floor_fork_exit", "fork, _exit(0), waitpid", Kind::kFloorForkExit},
      {"floor_exec_true", "fork, execve(/bin/true), waitpid", Kind::kFloorExecTrue},
  };
}

absl::StatusOr<Context> MakeContext(const std::string& kv_server, const std::string& tmpdir, int status_calls) {
  Context ctx;
  ctx.kv_server_name = kv_server;
  absl::StatusOr<std::string> path = FindExecutable(kv_server);
  if (!path.ok()) return path.status();
  ctx.kv_server = *path;
  if (ctx.kv_server[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == nullptr) return ErrnoStatus(errno, "getcwd()");
    ctx.kv_server = absl::StrCat(cwd, "/", ctx.kv_server);
  }
  ctx.status_calls = std::max(1, status_calls);
  ctx.environment = ChildEnvironment(environ, Standalone());
  std::string base = absl::StrCat(tmpdir, "/lifecycle-bench-XXXXXX");
  if (mkdtemp(base.data()) == nullptr) return ErrnoStatus(errno, absl::StrCat("mkdtemp(", base, ")"));
  ctx.socket_base = base;
  return ctx;
}

absl::Status RemoveContext(const Context& ctx) {
  if (rmdir(ctx.socket_base.c_str()) != 0) return ErrnoStatus(errno, absl::StrCat("rmdir(", ctx.socket_base, ")"));
  return absl::OkStatus();
}

absl::Status StartPool(Context& ctx, int size) {
  FixturePoolOptions options;
  options.server = BenchKvOptions(ctx, "pool", /*fork_server=*/true);
  options.size = size;
  absl::StatusOr<std::unique_ptr<FixturePool>> pool = FixturePool::Create(std::move(options));
  if (!pool.ok()) return pool.status();
  ctx.pool = *std::move(pool);
  ctx.pool_size = size;
  return AwaitIdle(*ctx.pool, size);
}

absl::Status StopPool(Context& ctx) {
  if (ctx.pool == nullptr) return absl::OkStatus();
  absl::Status shut = ctx.pool->Shutdown();
  ctx.pool.reset();
  return shut;
}

FixtureOptions BenchKvOptions(const Context& ctx, const std::string& name, bool fork_server) {
  FixtureOptions options;
  options.name = name;
  if (fork_server) {
    options.program = Registered{kBenchKv};
  } else {
    options.program = Binary{ctx.kv_server_name};  // As a test names it: looked up by Start().
  }
  options.socket_dir = ctx.socket_base;
  return options;
}

absl::Status Put(const std::shared_ptr<grpc::Channel>& channel) {
  std::unique_ptr<example::v1::KeyValue::Stub> stub = example::v1::KeyValue::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  example::v1::PutRequest request;
  request.set_key("bench");
  request.set_value("value");
  example::v1::PutResponse response;
  grpc::Status status = stub->Put(&context, request, &response);
  if (!status.ok()) return absl::UnavailableError(absl::StrCat("Put: ", status.error_message()));
  return absl::OkStatus();
}

std::string PolledKv::target() const { return absl::StrCat("127.0.0.1:", port); }

absl::StatusOr<PolledKv> StartPolled(const Context& ctx, absl::Duration interval) {
  absl::StatusOr<int> port = PickFreePort();
  if (!port.ok()) return port.status();
  absl::StatusOr<ChildProcess> server = ExecKvServer(ctx, *port);
  if (!server.ok()) return server.status();
  if (absl::Status ready = AwaitPort(*server, *port, interval); !ready.ok()) return ready;
  return PolledKv{*std::move(server), *port};
}

absl::Status StopPolled(PolledKv& kv) {
  absl::StatusOr<ExitInfo> exit = StopBySignal(kv.process, SIGINT);
  if (!exit.ok()) return exit.status();
  if (!exit->success()) return FalseReady(kv.port, absl::OkStatus(), *exit);
  return absl::OkStatus();
}

absl::StatusOr<InProcessKv> StartInProcess(bool with_port) {
  InProcessKv kv;
  kv.service = std::make_unique<example::KeyValueService>();
  grpc::ServerBuilder builder;
  if (with_port) builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &kv.port);
  builder.RegisterService(kv.service.get());
  kv.server = builder.BuildAndStart();
  if (kv.server == nullptr || (with_port && kv.port == 0)) {
    return absl::UnavailableError("grpc::ServerBuilder::BuildAndStart() failed (127.0.0.1:0)");
  }
  return kv;
}

void StopInProcess(InProcessKv& kv) {
  kv.server->Shutdown(std::chrono::system_clock::now());
  kv.server->Wait();
  kv.server.reset();
  kv.service.reset();
}

absl::Status RunCycle(const Context& ctx, Mode& mode, Samples* cycle) {
  switch (mode.kind) {
    case Kind::kForkServer:
    case Kind::kExec:
      return FixtureCycle(ctx, mode, cycle);
    case Kind::kPool:
      return PoolCycle(ctx, cycle);
    case Kind::kPoll:
      return PollCycle(ctx, mode, cycle);
    case Kind::kInProcessGrpc:
    case Kind::kInProcessChannel:
      return InProcessCycle(mode, cycle);
    case Kind::kFloorForkExit:
    case Kind::kFloorExecTrue:
      return FloorCycle(ctx, mode, cycle);
  }
  return absl::InternalError("unknown mode");
}

}  // namespace fixture::bench
