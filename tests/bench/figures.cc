#include "tests/bench/figures.h"

#include <algorithm>
#include <cstddef>
#include <numeric>

namespace fixture::bench {

double MicrosBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

double MicrosSince(Clock::time_point from) { return MicrosBetween(from, Clock::now()); }

Percentiles PercentilesOf(std::vector<double> values) {
  Percentiles p;
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  return p;
}

void Samples::AddRssKb(long kb) {
  if (kb >= 0) rss_kb_.push_back(kb);
}

void Samples::Append(const Samples& other) {
  for (int i = 0; i < kFigureCount; ++i) us_[i].insert(us_[i].end(), other.us_[i].begin(), other.us_[i].end());
  rss_kb_.insert(rss_kb_.end(), other.rss_kb_.begin(), other.rss_kb_.end());
}

double Samples::CyclesPerSecond() const {
  const std::vector<double>& cycles = Of(Figure::kFullCycle);
  if (cycles.empty()) return NAN;
  double total_us = std::accumulate(cycles.begin(), cycles.end(), 0.0);
  return static_cast<double>(cycles.size()) / (total_us / 1e6);
}

long Samples::MedianRssKb() const {
  if (rss_kb_.empty()) return -1;
  std::vector<long> sorted = rss_kb_;
  std::sort(sorted.begin(), sorted.end());
  return sorted[(sorted.size() - 1) / 2];
}

long Samples::MaxRssKb() const { return rss_kb_.empty() ? -1 : *std::max_element(rss_kb_.begin(), rss_kb_.end()); }

}  // namespace fixture::bench
