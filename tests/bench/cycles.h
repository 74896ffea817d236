// The bench's modes and one cycle of each: a fixture's life (start, first
// RPC, control calls, stop) by the fork server or by fork+exec; a server
// from a warm pool (FixturePool); the polling baseline users would otherwise
// write; the in-process anchor, a gRPC server in the bench's own process;
// and the floors, a bare process. The pieces the suite figure (suite.h)
// also uses are here too: the polled kv_server and the in-process server.
//
//   absl::StatusOr<Context> ctx = MakeContext("example/kv_server", "/tmp", 1);
//   for (Mode& mode : AllModes()) {
//     Samples cycle;
//     absl::Status s = RunCycle(*ctx, mode, &cycle);
//     if (s.ok()) mode.samples.Append(cycle);
//   }
//   RemoveContext(*ctx);
//
// The bench process uses gRPC: every fork() made here is followed at once by
// execve(2) or _exit(2), with only async-signal-safe calls in between (the
// baselines' fork+exec is ChildProcess::Exec, the fixture's own).
#ifndef FIXTURE_TESTS_BENCH_CYCLES_H_
#define FIXTURE_TESTS_BENCH_CYCLES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fixture/child_process.h"
#include "fixture/example/kv_service.h"
#include "fixture/fixture.h"
#include "fixture/fixture_pool.h"
#include "grpcpp/server.h"
#include "tests/bench/figures.h"

namespace fixture::bench {

// The FIXTURE_SERVER of the fork_server mode (cycles.cc): the service
// kv_server serves, with the same label.
inline constexpr char kBenchKv[] = "BenchKv";

enum class Kind {
  kForkServer,        // FixtureOptions.program = Registered{kBenchKv}: forked by the fork server.
  kExec,              // FixtureOptions.program = Binary{--kv_server}: fork+exec.
  kPoll,              // fork+exec of kv_server on a picked port, ready once connect() works, SIGINT.
  kFloorForkExit,     // fork, _exit(0), waitpid.
  kFloorExecTrue,     // fork, execve(/bin/true), waitpid.
  kPool,              // FixturePool of Registered{kBenchKv}: acquire, Put on the warm channel, release.
  kInProcessGrpc,     // grpc::Server in this process on 127.0.0.1:0: build+start, Put on a new channel, shutdown.
  kInProcessChannel,  // The same without a port: Put over grpc::Server::InProcessChannel.
};

// A mode, and what its cycles gave.
struct Mode {
  std::string name;
  std::string description;
  Kind kind = Kind::kExec;
  int poll_ms = 0;  // kPoll: the interval of the connect() poll.

  Samples samples;   // The measured cycles that succeeded.
  int failures = 0;  // Failed cycles, warm-up included.
  // kPoll: the server died before its port answered (the port was taken
  // meanwhile), and the port answered but not (yet) from our server.
  int died_before_ready = 0;
  int false_ready = 0;
  std::string last_error;

  bool is_fixture() const { return kind == Kind::kForkServer || kind == Kind::kExec || kind == Kind::kPool; }
  bool is_anchor() const { return kind == Kind::kInProcessGrpc || kind == Kind::kInProcessChannel; }
  bool is_floor() const { return kind == Kind::kFloorForkExit || kind == Kind::kFloorExecTrue; }
};

// Every mode, in table order: fork_server, exec, pool, poll_1ms, poll_10ms,
// poll_100ms, in_process_grpc, in_process_channel, floor_fork_exit,
// floor_exec_true.
std::vector<Mode> AllModes();

// What every cycle needs, prepared once.
struct Context {
  std::string kv_server_name;  // --kv_server as given: the exec mode's Binary, looked up by Start().
  std::string kv_server;       // Its absolute path, which the baselines exec.
  int status_calls = 1;        // Warm GetStatus calls per fixture cycle (at least 1).
  // The FixtureOptions.socket_dir of every fixture: a directory of the
  // bench's own, so that the soak's census sees its fixtures alone.
  std::string socket_base;
  std::vector<std::string> environment;  // The floors' envp: ours, less the launch protocol's.
  // The pool mode's warm pool (StartPool), refilled between its cycles.
  std::shared_ptr<FixturePool> pool;
  int pool_size = 0;
};

// Finds the server binary (a workspace path in the runfiles, or absolute)
// and makes the socket base "<tmpdir>/lifecycle-bench-XXXXXX".
absl::StatusOr<Context> MakeContext(const std::string& kv_server, const std::string& tmpdir, int status_calls);
// Removes the socket base; an error if it is not empty.
absl::Status RemoveContext(const Context& ctx);

// The pool mode's pool: `size` BenchKv servers by the fork server, named
// "pool-<n>", under the socket base. StopPool shuts it down and returns what
// went wrong in the background (FixturePool::Shutdown()).
absl::Status StartPool(Context& ctx, int size);
absl::Status StopPool(Context& ctx);

// FixtureOptions for a kv server named `name`: Registered{kBenchKv} by the
// fork server, or Binary{--kv_server} by fork+exec; under the socket base.
FixtureOptions BenchKvOptions(const Context& ctx, const std::string& name, bool fork_server);

// A KV Put of key "bench" on `channel`, with a 10 s deadline.
absl::Status Put(const std::shared_ptr<grpc::Channel>& channel);

// kv_server started the polling tools' way (the poll_* modes): a port
// picked by binding port 0 and closing it, fork+exec, connect() every
// `interval` until the port answers. StopPolled: SIGINT, reap; an error if
// it did not exit 0 (then the poller had reached another process: the port
// race).
struct PolledKv {
  ChildProcess process;
  int port = 0;
  std::string target() const;
};
absl::StatusOr<PolledKv> StartPolled(const Context& ctx, absl::Duration interval);
absl::Status StopPolled(PolledKv& kv);

// The in-process anchor: the example KeyValue service on a grpc::Server of
// this process, on 127.0.0.1:0 (`with_port`) or with no port at all (then
// only server->InProcessChannel() reaches it). StopInProcess: Shutdown() with
// a deadline of now (nothing is in flight), Wait().
struct InProcessKv {
  std::unique_ptr<example::KeyValueService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};
absl::StatusOr<InProcessKv> StartInProcess(bool with_port);
void StopInProcess(InProcessKv& kv);

// One cycle of `mode`: its figures into `cycle`. Counts a baseline's port
// race in `mode` (died_before_ready, false_ready); the caller counts failures.
absl::Status RunCycle(const Context& ctx, Mode& mode, Samples* cycle);

}  // namespace fixture::bench

#endif  // FIXTURE_TESTS_BENCH_CYCLES_H_
