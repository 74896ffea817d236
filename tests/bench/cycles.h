// The bench's modes and one cycle of each: a fixture's life (start, first
// RPC, control calls, stop) by the fork server or by fork+exec; the polling
// baseline users would otherwise write; and the floors, a bare process.
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

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/bench/figures.h"

namespace fixture::bench {

// The FIXTURE_SERVER of the fork_server mode (cycles.cc): the service
// kv_server serves, with the same label.
inline constexpr char kBenchKv[] = "BenchKv";

enum class Kind {
  kForkServer,     // FixtureOptions.program = Registered{kBenchKv}: forked by the fork server.
  kExec,           // FixtureOptions.program = Binary{--kv_server}: fork+exec.
  kPoll,           // fork+exec of kv_server on a picked port, ready once connect() works, SIGINT.
  kFloorForkExit,  // fork, _exit(0), waitpid.
  kFloorExecTrue,  // fork, execve(/bin/true), waitpid.
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

  bool is_fixture() const { return kind == Kind::kForkServer || kind == Kind::kExec; }
  bool is_floor() const { return kind == Kind::kFloorForkExit || kind == Kind::kFloorExecTrue; }
};

// Every mode, in table order: fork_server, exec, poll_1ms, poll_10ms,
// poll_100ms, floor_fork_exit, floor_exec_true.
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
};

// Finds the server binary (a workspace path in the runfiles, or absolute)
// and makes the socket base "<tmpdir>/lifecycle-bench-XXXXXX".
absl::StatusOr<Context> MakeContext(const std::string& kv_server, const std::string& tmpdir, int status_calls);
// Removes the socket base; an error if it is not empty.
absl::Status RemoveContext(const Context& ctx);

// One cycle of `mode`: its figures into `cycle`. Counts a baseline's port
// race in `mode` (died_before_ready, false_ready); the caller counts failures.
absl::Status RunCycle(const Context& ctx, Mode& mode, Samples* cycle);

}  // namespace fixture::bench

#endif  // FIXTURE_TESTS_BENCH_CYCLES_H_
