#include "tests/bench/soak.h"

#include <stdio.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/bench/figures.h"

namespace fixture::bench {
namespace {

using reliability::Census;

// At most this long for the asynchronous part of the last cycle to end,
// before a difference is called a leak.
constexpr absl::Duration kSettleTimeout = absl::Seconds(2);
constexpr int kWarmUpCycles = 2;

int CountFixtureDirs(const std::string& dir) {
  std::vector<std::string> names = reliability::ListDir(dir);
  return static_cast<int>(
      std::count_if(names.begin(), names.end(), [](const std::string& n) { return absl::StartsWith(n, "fixture-"); }));
}

// gRPC ends some threads and closes some descriptors asynchronously after the
// last channel goes (TakeCensus waits for its threads once gRPC has shut
// down, not while --hold_grpc keeps it): takes the census until the process
// is quiet (the same census 10 times in a row, 10 ms apart) or, given
// `target`, until it matches that; at most kSettleTimeout. How long it took
// goes to *waited_ms.
Resources Settle(const Context& ctx, const Census* target, double* waited_ms) {
  const Clock::time_point start = Clock::now();
  const absl::Time deadline = absl::Now() + kSettleTimeout;
  Census last = reliability::TakeCensus(ctx.socket_base, deadline);
  int same = 1;
  while (absl::Now() < deadline && !(target != nullptr ? SameCensus(last, *target) : same >= 10)) {
    absl::SleepFor(absl::Milliseconds(10));
    Census now = reliability::TakeCensus(ctx.socket_base, deadline);
    same = SameCensus(now, last) ? same + 1 : 1;
    last = std::move(now);
  }
  *waited_ms = MicrosSince(start) / 1000;
  return {std::move(last), CountFixtureDirs("/tmp")};
}

// One measured cycle of `mode`: into its samples, and the slowest so far.
void SoakCycle(const Context& ctx, Mode& mode, int index, SoakResult* result) {
  Samples cycle;
  absl::Status s = RunCycle(ctx, mode, &cycle);
  if (!s.ok()) {
    ++result->failures;
    fprintf(stderr, "soak %s cycle %d: %s\n", mode.name.c_str(), index, s.ToString().c_str());
    return;
  }
  mode.samples.Append(cycle);
  double us = cycle.Of(Figure::kFullCycle).back();
  if (us > result->slowest_us) {
    result->slowest_us = us;
    result->slowest_mode = mode.name;
    result->slowest_index = index;
  }
}

}  // namespace

bool SameCensus(const Census& a, const Census& b) {
  return a.grpc_initialized == b.grpc_initialized && a.open_fds == b.open_fds && a.threads == b.threads &&
         a.children == b.children && a.fork_server_children == b.fork_server_children && a.socket_dirs == b.socket_dirs;
}

SoakResult RunSoak(const Context& ctx, int cycles) {
  SoakResult result;
  result.cycles = cycles;
  for (const Mode& mode : AllModes()) {
    if (mode.kind == Kind::kForkServer || mode.kind == Kind::kExec) result.modes.push_back(mode);
  }
  for (int i = 0; i < kWarmUpCycles; ++i) {
    for (Mode& mode : result.modes) {
      Samples ignored;
      RunCycle(ctx, mode, &ignored).IgnoreError();
    }
  }
  double ignored_ms;
  result.before = Settle(ctx, nullptr, &ignored_ms);
  for (int i = 0; i < cycles; ++i) {
    for (Mode& mode : result.modes) SoakCycle(ctx, mode, i, &result);
  }
  result.after = Settle(ctx, &result.before.census, &result.settle_ms);
  result.equal = SameCensus(result.before.census, result.after.census);
  if (!result.equal) {
    fprintf(stderr, "soak: census before: %s\nsoak: census after:  %s\n", result.before.census.ToString().c_str(),
            result.after.census.ToString().c_str());
  }
  return result;
}

}  // namespace fixture::bench
