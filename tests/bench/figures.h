// The bench's figures: what a cycle measures (Figure), the values of one or
// many cycles (Samples) and their nearest-rank percentiles.
//
//   Samples cycle;
//   cycle.Add(Figure::kStartToReady, MicrosSince(start));
//   mode.samples.Append(cycle);
//   Percentiles p = mode.samples.PercentilesOf(Figure::kStartToReady);
#ifndef FIXTURE_TESTS_BENCH_FIGURES_H_
#define FIXTURE_TESTS_BENCH_FIGURES_H_

#include <array>
#include <chrono>
#include <cmath>
#include <vector>

namespace fixture::bench {

using Clock = std::chrono::steady_clock;

double MicrosBetween(Clock::time_point from, Clock::time_point to);
double MicrosSince(Clock::time_point from);

// What a cycle measures, in microseconds; in table order. A mode measures
// the figures its cycle reaches (the floors only kFullCycle).
enum class Figure {
  kStartToReady,       // Start() called (a baseline: the port picked) -> ready.
  kStartToFork,        // Fixture timeline: Launch() began -> forked.
  kForkToReady,        // Fixture timeline: forked -> the ReadyNotice arrived.
  kFirstRpc,           // A KV Put on a new channel.
  kControlStatusCold,  // The first GetStatus on the control channel (it connects).
  kControlStatus,      // Each further GetStatus (--status_calls of them).
  kStop,               // Stop requested -> reaped.
  kFullCycle,          // Start -> reaped, everything above included.
};
inline constexpr int kFigureCount = 8;

struct Percentiles {
  double p50 = NAN, p90 = NAN, p99 = NAN;
};

// Nearest-rank percentiles; NaN for no values.
Percentiles PercentilesOf(std::vector<double> values);

// The values of one cycle, or of all of a mode's measured cycles: per figure
// the microseconds (a figure may take several values a cycle), and the
// child's peak RSS.
class Samples {
 public:
  void Add(Figure figure, double us) { us_[Index(figure)].push_back(us); }
  // Ignores a negative (unknown) value.
  void AddRssKb(long kb);
  void Append(const Samples& other);

  bool Has(Figure figure) const { return !Of(figure).empty(); }
  const std::vector<double>& Of(Figure figure) const { return us_[Index(figure)]; }
  Percentiles PercentilesOf(Figure figure) const { return bench::PercentilesOf(Of(figure)); }

  // Cycles recorded: the values of kFullCycle, one a cycle.
  int cycles() const { return static_cast<int>(Of(Figure::kFullCycle).size()); }
  // Cycles over the sum of their full-cycle times; NaN for none.
  double CyclesPerSecond() const;
  // The median and the largest peak RSS; -1 for none.
  long MedianRssKb() const;
  long MaxRssKb() const;

 private:
  static int Index(Figure figure) { return static_cast<int>(figure); }

  std::array<std::vector<double>, kFigureCount> us_;
  std::vector<long> rss_kb_;
};

}  // namespace fixture::bench

#endif  // FIXTURE_TESTS_BENCH_FIGURES_H_
