#include "tests/bench/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "tests/bench/figures.h"

namespace fixture::bench {
namespace {

// Each figure's label in the table and field in the report, in table order.
struct FigureRow {
  Figure figure;
  const char* label;
  v1::Percentiles* (v1::ModeReport::*field)();
};
constexpr FigureRow kFigureRows[] = {
    {Figure::kStartToReady, "start -> ready", &v1::ModeReport::mutable_start_to_ready},
    {Figure::kStartToFork, "  (Launch -> forked)", &v1::ModeReport::mutable_start_to_fork},
    {Figure::kForkToReady, "  (forked -> ready)", &v1::ModeReport::mutable_fork_to_ready},
    {Figure::kFirstRpc, "first RPC (new channel)", &v1::ModeReport::mutable_first_rpc},
    {Figure::kControlStatusCold, "GetStatus (1st, connects)", &v1::ModeReport::mutable_control_status_cold},
    {Figure::kControlStatus, "GetStatus", &v1::ModeReport::mutable_control_status},
    {Figure::kStop, "stop (request -> reaped)", &v1::ModeReport::mutable_stop},
    {Figure::kFullCycle, "full cycle", &v1::ModeReport::mutable_full_cycle},
};
static_assert(std::size(kFigureRows) == kFigureCount, "a row for every figure");

// "fixture", "anchor", "baseline" or "floor".
const char* KindName(const Mode& m) {
  return m.is_fixture() ? "fixture" : m.is_anchor() ? "anchor" : m.is_floor() ? "floor" : "baseline";
}

// Where a mode's child RSS comes from, as the table and the report say it.
const char* RssSourceLabel(const Mode& m) {
  return m.is_anchor() ? "[no child: in this process]" : m.is_floor() ? "[wait4 ru_maxrss]" : "[VmHWM before stop]";
}
const char* RssSource(const Mode& m) {
  return m.is_floor() ? "wait4 ru_maxrss" : "/proc/<pid>/status VmHWM before stop";
}

// One mode's p50s over another's (Report.ratios).
struct RatioRow {
  std::string baseline, fixture;  // Numerator, denominator.
  double start_to_ready = NAN, full_cycle = NAN, stop = NAN;
};

const Mode* FindMode(const std::vector<Mode>& modes, absl::string_view name) {
  for (const Mode& m : modes) {
    if (m.name == name && m.samples.cycles() > 0) return &m;
  }
  return nullptr;
}

double P50(const Mode& m, Figure figure) { return m.samples.PercentilesOf(figure).p50; }

RatioRow RatioOf(const Mode& base, const Mode& fix) {
  // A floor has only its full cycle: the start -> ready it stands for.
  const Figure fix_start = fix.is_floor() ? Figure::kFullCycle : Figure::kStartToReady;
  RatioRow row{base.name, fix.name, P50(base, Figure::kStartToReady) / P50(fix, fix_start),
               P50(base, Figure::kFullCycle) / P50(fix, Figure::kFullCycle)};
  if (base.samples.Has(Figure::kStop) && fix.samples.Has(Figure::kStop)) {
    row.stop = P50(base, Figure::kStop) / P50(fix, Figure::kStop);
  }
  return row;
}

std::vector<RatioRow> Ratios(const std::vector<Mode>& modes) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const char* b : {"poll_1ms", "poll_10ms", "poll_100ms", "exec"}) {
    for (const char* f : {"fork_server", "exec", "pool"}) pairs.emplace_back(b, f);
  }
  for (const char* f : {"pool", "fork_server", "exec"}) pairs.emplace_back(f, "in_process_grpc");
  pairs.emplace_back("pool", "in_process_channel");
  pairs.emplace_back("fork_server", "floor_fork_exit");
  pairs.emplace_back("exec", "floor_exec_true");
  std::vector<RatioRow> rows;
  for (const auto& [b, f] : pairs) {
    const Mode* base = FindMode(modes, b);
    const Mode* fix = FindMode(modes, f);
    if (base == nullptr || fix == nullptr || base == fix) continue;
    rows.push_back(RatioOf(*base, *fix));
  }
  return rows;
}

// A suite run's figures against the shared run's.
struct SuiteRow {
  const SuiteRun* run;
  double total_ms, per_test_ms, overhead_ms = NAN, vs_shared = NAN;
};

std::vector<SuiteRow> SuiteRows(const SuiteResult& suite) {
  const SuiteRun* shared = suite.Find("shared");
  const int tests = std::max(1, suite.options.tests);
  std::vector<SuiteRow> rows;
  for (const SuiteRun& run : suite.runs) {
    SuiteRow row{&run, run.total_us / 1000, run.total_us / 1000 / tests};
    if (shared != nullptr && shared->failures == 0 && run.failures == 0) {
      row.overhead_ms = (run.total_us - shared->total_us) / 1000 / tests;
      row.vs_shared = run.total_us / shared->total_us;
    }
    rows.push_back(row);
  }
  return rows;
}

// The targets of issue 15, as measured.
struct TargetRow {
  std::string name, ratio;
  double measured = NAN, goal;
  bool at_least;  // Holds if measured >= goal; else if measured <= goal.
  bool holds() const { return std::isfinite(measured) && (at_least ? measured >= goal : measured <= goal); }
};

std::vector<TargetRow> Targets(const std::vector<Mode>& modes, const std::optional<SuiteResult>& suite) {
  std::vector<TargetRow> rows = {
      {"pool acquire->ready p50 at least 300x faster than the 100 ms poller", "poll_100ms/pool start_to_ready_p50", NAN,
       300, true},
      {"pool full cycle no slower than the in-process anchor's", "pool/in_process_grpc full_cycle_p50", NAN, 1, false},
      {"a synchronous Stop() (fork server) within 1x the in-process anchor's stop",
       "fork_server/in_process_grpc stop_p50", NAN, 1, false},
      {"the suite with a fresh pool server per test within 1.5x of one shared server", "suite pool/shared total", NAN,
       1.5, false},
      {"... and of one SharedFixture, reset and checked after each test", "suite pool/shared_reset total", NAN, 1.5,
       false},
  };
  for (const RatioRow& r : Ratios(modes)) {
    if (r.baseline == "poll_100ms" && r.fixture == "pool") rows[0].measured = r.start_to_ready;
    if (r.baseline == "pool" && r.fixture == "in_process_grpc") rows[1].measured = r.full_cycle;
    if (r.baseline == "fork_server" && r.fixture == "in_process_grpc") rows[2].measured = r.stop;
  }
  if (suite.has_value()) {
    for (const SuiteRow& row : SuiteRows(*suite)) {
      if (row.run->name == "pool") rows[3].measured = row.vs_shared;
    }
    const SuiteRun* pool = suite->Find("pool");
    const SuiteRun* shared_reset = suite->Find("shared_reset");
    if (pool != nullptr && shared_reset != nullptr && pool->failures == 0 && shared_reset->failures == 0) {
      rows[4].measured = pool->total_us / shared_reset->total_us;
    }
  }
  return rows;
}

// --- The table --------------------------------------------------------------------------

// Whole microseconds with thousands separators: "12,345"; "-" for NaN.
std::string Us(double us) {
  if (!std::isfinite(us)) return "-";
  std::string digits = absl::StrCat(static_cast<long long>(std::llround(us)));
  std::string out;
  int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Ms(double us) { return std::isfinite(us) ? absl::StrFormat("%.2f ms", us / 1000) : "-"; }

std::string Mib(long kb) { return kb < 0 ? "-" : absl::StrFormat("%.1f MiB", kb / 1024.0); }

void PrintHeader(const v1::Config& config) {
  struct utsname u;
  uname(&u);
  printf("lifecycle_bench: %d measured cycles per mode after %d warm-up, modes interleaved %s\n", config.iterations(),
         config.warmup(), config.order().c_str());
  printf("machine: %d CPUs, Linux %s; load average %s before, %s after\n", config.cpus(), u.release,
         config.load_average_before().c_str(), config.load_average_after().c_str());
  printf("times in microseconds\n\n");
  printf("%-16s %-26s %10s %10s %10s\n", "mode", "figure", "p50", "p90", "p99");
}

void PrintMode(const Mode& m, const v1::Config& config) {
  printf("%-16s %s\n", m.name.c_str(), m.description.c_str());
  for (const FigureRow& row : kFigureRows) {
    if (!m.samples.Has(row.figure)) continue;
    Percentiles p = m.samples.PercentilesOf(row.figure);
    printf("%-16s %-26s %10s %10s %10s\n", "", row.label, Us(p.p50).c_str(), Us(p.p90).c_str(), Us(p.p99).c_str());
  }
  std::string extra;
  if (m.died_before_ready > 0) absl::StrAppend(&extra, ", ", m.died_before_ready, " died before ready");
  if (m.false_ready > 0) absl::StrAppend(&extra, ", ", m.false_ready, " ready on a port not (yet) theirs");
  printf("%-16s child peak RSS %s (p50), %s (max) %s; %.1f cycles/s; %d measured, %d of %d cycles failed%s\n\n", "",
         Mib(m.samples.MedianRssKb()).c_str(), Mib(m.samples.MaxRssKb()).c_str(), RssSourceLabel(m),
         m.samples.CyclesPerSecond(), m.samples.cycles(), m.failures, config.warmup() + config.iterations(),
         extra.c_str());
}

void PrintSummary(const std::vector<Mode>& modes) {
  printf("summary (p50)    %14s %14s %12s %12s\n", "start->ready", "full cycle", "cycles/s", "child RSS");
  for (const Mode& m : modes) {
    printf("%-16s %14s %14s %12.1f %12s\n", m.name.c_str(),
           Ms(m.samples.PercentilesOf(Figure::kStartToReady).p50).c_str(),
           Ms(m.samples.PercentilesOf(Figure::kFullCycle).p50).c_str(), m.samples.CyclesPerSecond(),
           Mib(m.samples.MedianRssKb()).c_str());
  }
  std::vector<RatioRow> ratios = Ratios(modes);
  if (ratios.empty()) return;
  printf("\nratios of p50s                     %14s %14s %14s\n", "start->ready", "full cycle", "stop");
  for (const RatioRow& r : ratios) {
    std::string name = absl::StrCat(r.baseline, " / ", r.fixture);
    printf("%-34s %13.2fx %13.2fx %13s\n", name.c_str(), r.start_to_ready, r.full_cycle,
           std::isfinite(r.stop) ? absl::StrFormat("%.2fx", r.stop).c_str() : "-");
  }
}

void PrintNotes(const std::vector<Mode>& modes, const v1::Config& config) {
  int died = 0, false_ready = 0, cycles = 0;
  for (const Mode& m : modes) {
    if (m.kind != Kind::kPoll) continue;
    died += m.died_before_ready;
    false_ready += m.false_ready;
    cycles += config.warmup() + config.iterations();
  }
  if (cycles > 0) {
    printf(
        "\nnote: the poll_* baselines pick their port by binding port 0 and closing it, then start the server on it:\n"
        "      another process can take the port in between (the server then fails, or the poller reaches someone\n"
        "      else's server), and a connect() to a free port can even reach the poller's own socket (TCP\n"
        "      self-connect). The fixture avoids both: its server binds port 0 itself and reports the port through\n"
        "      the readiness pipe. In this run, of %d polling cycles: %d server(s) died before ready, %d time(s)\n"
        "      the port answered but our server was not serving it (failed cycles, not in the figures).\n",
        cycles, died, false_ready);
  }
  printf(
      "note: a full cycle is start + first RPC + stop, plus for the fixture modes %d GetStatus calls and the\n"
      "      RSS read; the baselines make no control call.\n",
      std::max(1, config.status_calls()) + 1);
}

void PrintResourceRow(const char* what, long before, long after, bool checked) {
  printf("  %-44s %8ld %8ld%s\n", what, before, after,
         !checked ? "  (shared with other processes: not checked)" : (before == after ? "" : "  <-- differs"));
}

void PrintSoak(const SoakResult& s) {
  printf("\nsoak: %d start/stop cycles each of fork_server and exec, %d failed\n", s.cycles, s.failures);
  printf("  %-44s %8s %8s\n", "", "before", "after");
  const reliability::Census& a = s.before.census;
  const reliability::Census& b = s.after.census;
  PrintResourceRow("open descriptors (/proc/self/fd)", a.open_fds, b.open_fds, true);
  PrintResourceRow("threads (/proc/self/status)", a.threads, b.threads, true);
  PrintResourceRow("child processes (fork server included)", a.children.size(), b.children.size(), true);
  PrintResourceRow("children of the fork server", a.fork_server_children.size(), b.fork_server_children.size(), true);
  PrintResourceRow("fixture-* temp dirs under the socket base", a.socket_dirs.size(), b.socket_dirs.size(), true);
  PrintResourceRow("gRPC initialised", a.grpc_initialized, b.grpc_initialized, true);
  PrintResourceRow("/tmp/fixture-*", s.before.tmp_fixture_dirs, s.after.tmp_fixture_dirs, false);
  for (const Mode& m : s.modes) {
    Percentiles p = m.samples.PercentilesOf(Figure::kFullCycle);
    printf("  %-12s cycle p50 %s, p99 %s\n", m.name.c_str(), Ms(p.p50).c_str(), Ms(p.p99).c_str());
  }
  printf("  slowest cycle: %s (%s, cycle %d)\n", Ms(s.slowest_us).c_str(), s.slowest_mode.c_str(), s.slowest_index);
  printf("  %s (after settling %.0f ms)\n", s.equal ? "resources back where they were: OK" : "LEAK: resources differ",
         s.settle_ms);
}

void PrintSuite(const SuiteResult& suite) {
  printf("\nsuite: %d tests, each %d Put(s) and %s waiting on I/O; pool size %d\n", suite.options.tests,
         suite.options.rpcs, absl::FormatDuration(suite.options.test_io).c_str(), suite.options.pool_size);
  printf("  %-16s %12s %12s %16s %10s\n", "run", "total", "per test", "overhead/test", "vs shared");
  for (const SuiteRow& row : SuiteRows(suite)) {
    printf("  %-16s %9.1f ms %9.2f ms %13.2f ms %9.2fx%s\n", row.run->name.c_str(), row.total_ms, row.per_test_ms,
           row.overhead_ms, row.vs_shared, row.run->failures > 0 ? "  FAILED (see below)" : "");
  }
  for (const SuiteRun& run : suite.runs) {
    if (run.failures > 0) printf("  %s: %s\n", run.name.c_str(), run.last_error.c_str());
  }
}

void PrintTargets(const std::vector<TargetRow>& targets) {
  printf("\ntargets (issue 15), measured in this run:\n");
  for (const TargetRow& t : targets) {
    printf("  %-8s %-78s %s = %s (goal %s %g)\n", std::isfinite(t.measured) ? (t.holds() ? "holds" : "MISSED") : "n/a",
           t.name.c_str(), t.ratio.c_str(),
           std::isfinite(t.measured) ? absl::StrFormat("%.2f", t.measured).c_str() : "-",
           t.at_least ? ">=" : "<=", t.goal);
  }
}

// --- The report message -----------------------------------------------------------------

// `value` rounded to `digits` decimals, as the report keeps it.
double Rounded(double value, int digits) {
  double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

void SetPercentiles(const Percentiles& p, v1::Percentiles* out) {
  out->set_p50_us(Rounded(p.p50, 1));
  out->set_p90_us(Rounded(p.p90, 1));
  out->set_p99_us(Rounded(p.p99, 1));
}

v1::ModeReport ModeToProto(const Mode& m) {
  v1::ModeReport out;
  out.set_description(m.description);
  out.set_kind(KindName(m));
  if (m.kind == Kind::kPoll) out.set_poll_interval_ms(m.poll_ms);
  out.set_iterations(m.samples.cycles());
  out.set_failures(m.failures);
  if (m.kind == Kind::kPoll) {
    out.set_died_before_ready(m.died_before_ready);
    out.set_false_ready(m.false_ready);
  }
  if (!m.last_error.empty()) out.set_last_error(m.last_error);
  for (const FigureRow& row : kFigureRows) {
    if (m.samples.Has(row.figure)) SetPercentiles(m.samples.PercentilesOf(row.figure), (out.*row.field)());
  }
  if (!m.is_anchor()) {  // No child of its own.
    v1::ChildPeakRss* rss = out.mutable_child_peak_rss_kb();
    rss->set_p50(static_cast<int32_t>(m.samples.MedianRssKb()));
    rss->set_max(static_cast<int32_t>(m.samples.MaxRssKb()));
    rss->set_source(RssSource(m));
  }
  if (double rate = m.samples.CyclesPerSecond(); std::isfinite(rate)) out.set_cycles_per_sec(Rounded(rate, 1));
  return out;
}

v1::Resources ResourcesToProto(const Resources& r) {
  v1::Resources out;
  out.set_open_fds(r.census.open_fds);
  out.set_threads(r.census.threads);
  out.set_child_processes(static_cast<int32_t>(r.census.children.size()));
  out.set_fork_server_children(static_cast<int32_t>(r.census.fork_server_children.size()));
  out.set_temp_dirs(static_cast<int32_t>(r.census.socket_dirs.size()));
  out.set_tmp_fixture_dirs_unchecked(r.tmp_fixture_dirs);
  out.set_grpc_initialized(r.census.grpc_initialized);
  return out;
}

v1::Soak SoakToProto(const SoakResult& s) {
  v1::Soak out;
  out.set_cycles_per_mode(s.cycles);
  out.set_failures(s.failures);
  *out.mutable_before() = ResourcesToProto(s.before);
  *out.mutable_after() = ResourcesToProto(s.after);
  out.set_equal(s.equal);
  out.set_settle_ms(Rounded(s.settle_ms, 1));
  out.set_slowest_cycle_us(Rounded(s.slowest_us, 1));
  out.set_slowest_cycle_mode(s.slowest_mode);
  out.set_slowest_cycle_index(s.slowest_index);
  for (const Mode& m : s.modes) {
    if (m.samples.cycles() == 0) continue;
    SetPercentiles(m.samples.PercentilesOf(Figure::kFullCycle), &(*out.mutable_cycle())[m.name]);
  }
  return out;
}

v1::Suite SuiteToProto(const SuiteResult& suite) {
  v1::Suite out;
  out.set_tests(suite.options.tests);
  out.set_test_io_ms(absl::ToDoubleMilliseconds(suite.options.test_io));
  out.set_rpcs_per_test(suite.options.rpcs);
  out.set_pool_size(suite.options.pool_size);
  for (const SuiteRow& row : SuiteRows(suite)) {
    v1::SuiteRun& run = (*out.mutable_runs())[row.run->name];
    run.set_description(row.run->description);
    run.set_total_ms(Rounded(row.total_ms, 2));
    run.set_per_test_ms(Rounded(row.per_test_ms, 3));
    if (std::isfinite(row.overhead_ms)) run.set_overhead_per_test_ms(Rounded(row.overhead_ms, 3));
    if (std::isfinite(row.vs_shared)) run.set_total_vs_shared(Rounded(row.vs_shared, 3));
    run.set_failures(row.run->failures);
    if (!row.run->last_error.empty()) run.set_last_error(row.run->last_error);
  }
  return out;
}

}  // namespace

std::string LoadAverage() {
  double load[3];
  if (getloadavg(load, 3) != 3) return "?";
  return absl::StrFormat("%.2f %.2f %.2f", load[0], load[1], load[2]);
}

void PrintTable(const std::vector<Mode>& modes, const v1::Config& config, const std::optional<SoakResult>& soak,
                const std::optional<SuiteResult>& suite) {
  PrintHeader(config);
  for (const Mode& m : modes) PrintMode(m, config);
  PrintSummary(modes);
  PrintNotes(modes, config);
  if (soak.has_value()) PrintSoak(*soak);
  if (suite.has_value()) PrintSuite(*suite);
  PrintTargets(Targets(modes, suite));
  fflush(stdout);
}

v1::Report BuildReport(const std::vector<Mode>& modes, const v1::Config& config, const std::optional<SoakResult>& soak,
                       const std::optional<SuiteResult>& suite) {
  v1::Report report;
  report.set_benchmark("lifecycle_bench");
  *report.mutable_config() = config;
  for (const Mode& m : modes) (*report.mutable_modes())[m.name] = ModeToProto(m);
  for (const RatioRow& r : Ratios(modes)) {
    v1::Ratio& ratio = (*report.mutable_ratios())[absl::StrCat(r.baseline, "/", r.fixture)];
    if (std::isfinite(r.start_to_ready)) ratio.set_start_to_ready_p50(Rounded(r.start_to_ready, 2));
    if (std::isfinite(r.full_cycle)) ratio.set_full_cycle_p50(Rounded(r.full_cycle, 2));
    if (std::isfinite(r.stop)) ratio.set_stop_p50(Rounded(r.stop, 2));
  }
  if (soak.has_value()) *report.mutable_soak() = SoakToProto(*soak);
  if (suite.has_value()) *report.mutable_suite() = SuiteToProto(*suite);
  for (const TargetRow& t : Targets(modes, suite)) {
    v1::Target* target = report.add_targets();
    target->set_name(t.name);
    target->set_ratio(t.ratio);
    if (std::isfinite(t.measured)) target->set_measured(Rounded(t.measured, 2));
    target->set_goal(t.goal);
    target->set_holds_if(t.at_least ? "measured >= goal" : "measured <= goal");
    target->set_holds(t.holds());
  }
  return report;
}

absl::Status WriteJson(const v1::Report& report, const std::string& path) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (auto printed = google::protobuf::util::MessageToJsonString(report, &json, options); !printed.ok()) {
    return absl::InternalError(absl::StrCat("the report as JSON: ", printed.ToString()));
  }
  std::ofstream out(path, std::ios::trunc);
  out << json;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace fixture::bench
