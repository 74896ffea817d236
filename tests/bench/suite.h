// The suite figure: a GoogleTest-shaped loop of many short tests, each with a
// fresh server (from a warm pool, by the fork server, by fork+exec, or
// polled every 100 ms), against one shared server for the whole suite and
// against the in-process anchor (a grpc::Server in this process per test).
// What a user pays, in wall time, for a fresh server per test.
//
//   SuiteOptions options;  // 200 tests, each 3 Puts and 5 ms of waiting on I/O
//   SuiteResult suite = RunSuites(ctx, options);
//
// A test is: its server's set-up (the shared run: none), `rpcs` KV Puts,
// `test_io` of sleep standing for the test's I/O waits (a socket, a file, a
// child: the CPU is idle meanwhile), its server's tear-down (the pool: a
// Release, stopped in the background; the others: a synchronous stop). The
// runs go one after the other, each timed whole: the shared server's start
// and stop, and the pool's creation and shutdown, are inside its total.
#ifndef FIXTURE_TESTS_BENCH_SUITE_H_
#define FIXTURE_TESTS_BENCH_SUITE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/bench/cycles.h"

namespace fixture::bench {

struct SuiteOptions {
  int tests = 200;
  absl::Duration test_io = absl::Milliseconds(5);
  int rpcs = 3;
  int pool_size = 2;
};

// One run of the suite with one way of getting a server.
struct SuiteRun {
  std::string name;  // "shared", "pool", "fork_server", "exec", "poll_100ms", "in_process_grpc"
  std::string description;
  double total_us = 0;  // The whole run, wall time.
  int failures = 0;     // Tests that failed (then the run stops).
  std::string last_error;
};

struct SuiteResult {
  SuiteOptions options;
  std::vector<SuiteRun> runs;  // In the order of SuiteRun.name's list.
  // The run named `name`, or null.
  const SuiteRun* Find(const std::string& name) const;
};

// Every run, one after the other.
SuiteResult RunSuites(const Context& ctx, const SuiteOptions& options);

}  // namespace fixture::bench

#endif  // FIXTURE_TESTS_BENCH_SUITE_H_
