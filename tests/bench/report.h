// The bench's results, two ways from the same figures: the table on stdout
// and the report message (bench_report.proto), whose JSON --json=PATH writes.
//
//   v1::Config config = ...;  // the run's settings, load averages included
//   PrintTable(modes, config, soak, suite);
//   absl::Status written = WriteJson(BuildReport(modes, config, soak, suite), path);
#ifndef FIXTURE_TESTS_BENCH_REPORT_H_
#define FIXTURE_TESTS_BENCH_REPORT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tests/bench/bench_report.pb.h"
#include "tests/bench/cycles.h"
#include "tests/bench/soak.h"
#include "tests/bench/suite.h"

namespace fixture::bench {

// The 1, 5 and 15 minute load averages, "0.52 0.31 0.20"; "?" if unknown.
std::string LoadAverage();

// Per mode its figures' p50/p90/p99, child RSS, cycles/s and failures; a
// summary; the ratios of p50s (bench_report.proto's Report.ratios); notes;
// the soak; the suite; the targets of issue 15 and whether they hold.
void PrintTable(const std::vector<Mode>& modes, const v1::Config& config, const std::optional<SoakResult>& soak,
                const std::optional<SuiteResult>& suite);

// The same figures as the report message.
v1::Report BuildReport(const std::vector<Mode>& modes, const v1::Config& config, const std::optional<SoakResult>& soak,
                       const std::optional<SuiteResult>& suite);

// The report as JSON (MessageToJsonString, proto field names) to `path`.
absl::Status WriteJson(const v1::Report& report, const std::string& path);

}  // namespace fixture::bench

#endif  // FIXTURE_TESTS_BENCH_REPORT_H_
