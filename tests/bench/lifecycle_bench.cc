// lifecycle_bench: the cost of a fixture's life (start, first RPC, control
// call, stop) measured against what users would otherwise pick, in one run.
//
// Modes (cycles.h), interleaved round-robin so that machine noise hits all
// alike:
//   fork_server      FixtureOptions.program = fixture::Registered{"BenchKv"}:
//                    a FIXTURE_SERVER of this binary, forked by the fork
//                    server (started first thing in main).
//   exec             FixtureOptions.program = fixture::Binary{"example/kv_server"}:
//                    fork+exec.
//   pool             A FixturePool (fixture/fixture_pool.h) of --pool_size
//                    BenchKv servers: Acquire (start->ready), a Put on the
//                    channel the pool connected (first RPC), Release (stop:
//                    the hand-over; the stop itself runs in the background).
//                    Between cycles, unmeasured, the bench waits until the
//                    pool is full again and its stops are done.
//   poll_1ms/10ms/100ms
//                    The polling tools' way (rules_itest, Testcontainers,
//                    pytest-xprocess): fork+exec of the same kv_server without
//                    the readiness pipe, on a port picked by binding port 0 and
//                    closing it, ready once connect() to that port succeeds
//                    (tried every 1/10/100 ms), stopped by SIGINT.
//   in_process_grpc  The anchor: a grpc::Server of the example service in the
//                    bench's own process on 127.0.0.1:0: BuildAndStart, a Put
//                    on a new channel, Shutdown(now)+Wait.
//   in_process_channel
//                    The same with no port, the Put over InProcessChannel.
//   floor_fork_exit  fork, _exit(0) in the child, waitpid.
//   floor_exec_true  fork, execve(/bin/true), waitpid.
//
// Figures per mode (figures.h; microseconds, p50/p90/p99): start->ready,
// first RPC (a KV Put on a new channel), GetStatus on the control channel
// (fixture modes; the first call, which connects, and a second one), stop
// (request -> reaped), full cycle; the child's peak RSS; cycles per second
// (measured cycles over the sum of their full-cycle times). Then the ratios of
// the baselines' p50s to the fixture modes', and of the fixture modes to the
// anchor and the floors. --json=PATH writes the same figures (report.h,
// bench_report.proto).
//
// Then the suite figure (suite.h; --suite_tests=0 skips it): --suite_tests
// short tests, each --suite_rpcs Puts and --suite_test_io waiting on I/O,
// with one shared server, a fresh one per test from a pool, by the fork
// server, by exec, polled every 100 ms, and in-process. Last, the targets of
// issue 15, each a ratio of this run, and whether it holds.
//
//   bazel run -c opt //tests/bench:lifecycle_bench -- --iterations=200 --json=/tmp/bench.json
//
// Knobs for looking into a figure: --modes=fork_server,exec (a subset),
// --tmpdir=/dev/shm (where the fixtures' private directories go),
// --kv_server=/abs/path (another build of the server binary),
// --hold_grpc (gRPC initialised once for the whole run), --status_calls=N
// (N warm GetStatus calls per fixture cycle instead of 1).
//
// --soak=N then runs N start/stop cycles of the fork-server and of the exec
// mode and checks that this process holds as much as before (soak.h: the
// census of tests/reliability); it exits 1 if not.
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "fixture/fork_server.h"
#include "grpc/grpc.h"
#include "tests/bench/bench_report.pb.h"
#include "tests/bench/cycles.h"
#include "tests/bench/report.h"
#include "tests/bench/soak.h"
#include "tests/bench/suite.h"

ABSL_FLAG(int, iterations, 200, "Measured start/stop cycles per mode.");
ABSL_FLAG(int, warmup, 10, "Unmeasured cycles per mode before the measured ones.");
ABSL_FLAG(std::string, json, "", "Also write the figures as JSON to this path.");
ABSL_FLAG(int, soak, 0,
          "Then run this many start/stop cycles of the fork-server mode and of the exec mode, and check that "
          "descriptors, threads, child processes and temp dirs are back where they were (exit 1 if not).");
ABSL_FLAG(std::string, tmpdir, "/tmp",
          "Where the bench makes its private directory, the FixtureOptions.socket_dir of every fixture (each "
          "fixture's fixture-XXXXXX directory, control socket and unkept logs go there).");
ABSL_FLAG(std::string, kv_server, "example/kv_server",
          "The server binary of the exec and poll_* modes: a workspace path in the runfiles or an absolute path "
          "(to compare builds of kv_server).");
ABSL_FLAG(int, status_calls, 1,
          "Warm GetStatus calls per fixture cycle; the GetStatus figure covers them all (and the full cycle "
          "includes them).");
ABSL_FLAG(bool, hold_grpc, false,
          "Keep gRPC initialised in the bench process for the whole run (grpc_init() once), as a test process "
          "that holds a channel or stub all along would. Default: gRPC comes and goes with each cycle's channels, "
          "as in a test process whose tests each make and drop their own.");
ABSL_FLAG(std::vector<std::string>, modes, {},
          "Run only these modes (comma-separated; default all): fork_server, exec, pool, poll_1ms, poll_10ms, "
          "poll_100ms, in_process_grpc, in_process_channel, floor_fork_exit, floor_exec_true.");
ABSL_FLAG(int, pool_size, 2, "FixturePoolOptions.size of the pool mode and of the suite's pool run.");
ABSL_FLAG(int, suite_tests, 200, "Tests of the suite figure (0: no suite).");
ABSL_FLAG(absl::Duration, suite_test_io, absl::Milliseconds(5),
          "What each test of the suite waits on I/O (a sleep: the CPU is idle meanwhile).");
ABSL_FLAG(int, suite_rpcs, 3, "KV Puts each test of the suite makes.");

namespace fixture::bench {
namespace {

// The modes --modes names, in table order; InvalidArgument for an unknown one.
absl::StatusOr<std::vector<Mode>> SelectModes(const std::vector<std::string>& wanted) {
  std::vector<Mode> modes;
  for (Mode& m : AllModes()) {
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), m.name) != wanted.end()) modes.push_back(m);
  }
  if (!wanted.empty() && modes.size() != wanted.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--modes: unknown mode in \"", absl::StrJoin(wanted, ","), "\""));
  }
  return modes;
}

// Round-robin: cycle i of every mode, then cycle i+1. The first `warmup`
// cycles are not recorded.
void RunInterleaved(const Context& ctx, int warmup, int iterations, std::vector<Mode>& modes) {
  for (int i = 0; i < warmup + iterations; ++i) {
    for (Mode& mode : modes) {
      Samples cycle;
      absl::Status s = RunCycle(ctx, mode, &cycle);
      if (!s.ok()) {
        ++mode.failures;
        mode.last_error = s.ToString();
        fprintf(stderr, "lifecycle_bench: %s cycle %d: %s\n", mode.name.c_str(), i, s.ToString().c_str());
      } else if (i >= warmup) {
        mode.samples.Append(cycle);
      }
    }
  }
}

// A fixture must never fail; a baseline may lose a port race now and then.
bool AnyModeFailed(const std::vector<Mode>& modes, int iterations) {
  for (const Mode& m : modes) {
    const bool must_not_fail = m.is_fixture() || m.is_anchor();
    if (must_not_fail ? m.failures > 0 : (iterations > 0 && m.samples.cycles() == 0)) return true;
  }
  return false;
}

v1::Config ConfigFromFlags() {
  v1::Config config;
  config.set_iterations(absl::GetFlag(FLAGS_iterations));
  config.set_warmup(absl::GetFlag(FLAGS_warmup));
  config.set_cpus(static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  config.set_order("round-robin");
  config.set_hold_grpc(absl::GetFlag(FLAGS_hold_grpc));
  config.set_status_calls(absl::GetFlag(FLAGS_status_calls));
  config.set_tmpdir(absl::GetFlag(FLAGS_tmpdir));
  config.set_pool_size(absl::GetFlag(FLAGS_pool_size));
  return config;
}

// The run after the flags are checked: true if everything went well.
bool Run(Context& ctx, std::vector<Mode>& modes, v1::Config& config) {
  config.set_load_average_before(LoadAverage());
  RunInterleaved(ctx, config.warmup(), config.iterations(), modes);
  bool ok = !AnyModeFailed(modes, config.iterations());
  // The pool's spares and their warm channels would count in the soak's
  // census, and their refills in the suite's figures.
  if (absl::Status shut = StopPool(ctx); !shut.ok()) {
    fprintf(stderr, "lifecycle_bench: the pool mode's pool at shutdown: %s\n", shut.ToString().c_str());
    ok = false;
  }
  std::optional<SoakResult> soak;
  if (int cycles = absl::GetFlag(FLAGS_soak); cycles > 0) {
    soak = RunSoak(ctx, cycles);
    ok &= soak->ok();
  }
  std::optional<SuiteResult> suite;
  if (int tests = absl::GetFlag(FLAGS_suite_tests); tests > 0) {
    SuiteOptions options;
    options.tests = tests;
    options.test_io = absl::GetFlag(FLAGS_suite_test_io);
    options.rpcs = std::max(1, absl::GetFlag(FLAGS_suite_rpcs));
    options.pool_size = config.pool_size();
    suite = RunSuites(ctx, options);
    for (const SuiteRun& run : suite->runs) ok &= run.failures == 0;
  }
  config.set_load_average_after(LoadAverage());
  PrintTable(modes, config, soak, suite);
  if (std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    if (absl::Status written = WriteJson(BuildReport(modes, config, soak, suite), path); !written.ok()) {
      fprintf(stderr, "lifecycle_bench: %s\n", written.ToString().c_str());
      ok = false;
    } else {
      printf("\nJSON written to %s\n", path.c_str());
    }
  }
  return ok;
}

}  // namespace
}  // namespace fixture::bench

int main(int argc, char** argv) {
  using namespace fixture::bench;
  // First thing: the process is still single-threaded and has not used gRPC.
  absl::Status fork_server = fixture::StartForkServer();
  absl::SetProgramUsageMessage(
      "the cost of a fixture's start/stop against polling baselines and bare processes.\n"
      "  lifecycle_bench [--iterations=N] [--warmup=N] [--modes=a,b] [--soak=N] [--json=PATH]");
  absl::ParseCommandLine(argc, argv);
  if (!fork_server.ok()) {
    fprintf(stderr, "lifecycle_bench: no fork server: %s\n", fork_server.ToString().c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_hold_grpc)) grpc_init();  // Never undone: held until exit.
  v1::Config config = ConfigFromFlags();
  if (config.iterations() < 0 || config.warmup() < 0 || absl::GetFlag(FLAGS_soak) < 0 ||
      absl::GetFlag(FLAGS_suite_tests) < 0 || config.pool_size() < 1) {
    fprintf(stderr,
            "lifecycle_bench: --iterations, --warmup, --soak and --suite_tests must not be negative, --pool_size "
            "must be at least 1\n");
    return 2;
  }
  absl::StatusOr<std::vector<Mode>> modes = SelectModes(absl::GetFlag(FLAGS_modes));
  if (!modes.ok()) {
    fprintf(stderr, "lifecycle_bench: %s\n", modes.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<Context> ctx =
      MakeContext(absl::GetFlag(FLAGS_kv_server), config.tmpdir(), absl::GetFlag(FLAGS_status_calls));
  if (!ctx.ok()) {
    fprintf(stderr, "lifecycle_bench: %s\n", ctx.status().ToString().c_str());
    return 1;
  }
  bool ok = true;
  if (std::any_of(modes->begin(), modes->end(), [](const Mode& m) { return m.kind == Kind::kPool; })) {
    if (absl::Status pool = StartPool(*ctx, config.pool_size()); !pool.ok()) {
      fprintf(stderr, "lifecycle_bench: the pool mode's pool: %s\n", pool.ToString().c_str());
      ok = false;
    }
  }
  if (ok) ok = Run(*ctx, *modes, config);
  if (absl::Status shut = StopPool(*ctx); !shut.ok()) {  // After a failed StartPool: nothing.
    fprintf(stderr, "lifecycle_bench: the pool mode's pool at shutdown: %s\n", shut.ToString().c_str());
    ok = false;
  }
  if (absl::Status removed = RemoveContext(*ctx); !removed.ok()) {
    fprintf(stderr, "lifecycle_bench: %s\n", removed.ToString().c_str());
    ok = false;
  }
  if (!ok) fprintf(stderr, "lifecycle_bench: FAILED (see above)\n");
  return ok ? 0 : 1;
}
