// The soak (--soak=N): N start/stop cycles of each fixture mode (fork_server
// and exec), interleaved, then the census of this process must be what it was
// before: the Census of tests/reliability (open descriptors, threads, children
// of this process and of the fork server, fixture-* directories in the
// bench's socket base, whether gRPC is still initialised).
//
//   SoakResult soak = RunSoak(ctx, 1000);
//   if (!soak.ok()) ...  // a leak, or a failed cycle
#ifndef FIXTURE_TESTS_BENCH_SOAK_H_
#define FIXTURE_TESTS_BENCH_SOAK_H_

#include <string>
#include <vector>

#include "tests/bench/cycles.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::bench {

// What the soak compares, and what it only shows.
struct Resources {
  reliability::Census census;
  // /tmp/fixture-*, shared with every other process: shown, not compared.
  int tmp_fixture_dirs = -1;
};

// Every field of the census alike.
bool SameCensus(const reliability::Census& a, const reliability::Census& b);

struct SoakResult {
  int cycles = 0;  // Per mode.
  int failures = 0;
  Resources before, after;
  double settle_ms = 0;  // How long `after` waited to match `before`.
  bool equal = false;    // SameCensus(before, after).
  double slowest_us = 0;
  std::string slowest_mode;
  int slowest_index = -1;
  // fork_server and exec, with the full cycles of the soak in `samples`.
  std::vector<Mode> modes;

  bool ok() const { return equal && failures == 0; }
};

// Two unmeasured cycles of each mode first, so that what lives as long as
// the process (the fork thread, gRPC's threads and pollers) exists before the
// first census. Failed cycles are reported on stderr, a leak too.
SoakResult RunSoak(const Context& ctx, int cycles);

}  // namespace fixture::bench

#endif  // FIXTURE_TESTS_BENCH_SOAK_H_
