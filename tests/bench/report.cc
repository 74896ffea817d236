#include "tests/bench/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

// "fixture", "baseline" or "floor".
const char* KindName(const Mode& m) { return m.is_fixture() ? "fixture" : m.is_floor() ? "floor" : "baseline"; }

// Where a mode's child RSS comes from, as the table and the report say it.
const char* RssSourceLabel(const Mode& m) { return m.is_floor() ? "[wait4 ru_maxrss]" : "[VmHWM before stop]"; }
const char* RssSource(const Mode& m) {
  return m.is_floor() ? "wait4 ru_maxrss" : "/proc/<pid>/status VmHWM before stop";
}

// A baseline's p50s over a fixture mode's.
struct RatioRow {
  std::string baseline, fixture;
  double start_to_ready = NAN, full_cycle = NAN;
};

std::vector<RatioRow> Ratios(const std::vector<Mode>& modes) {
  auto find = [&](absl::string_view name) -> const Mode* {
    for (const Mode& m : modes) {
      if (m.name == name && m.samples.cycles() > 0) return &m;
    }
    return nullptr;
  };
  auto ratio = [](const Mode& base, const Mode& fix, Figure figure) {
    return base.samples.PercentilesOf(figure).p50 / fix.samples.PercentilesOf(figure).p50;
  };
  std::vector<RatioRow> rows;
  for (const char* b : {"poll_1ms", "poll_10ms", "poll_100ms", "exec"}) {
    for (const char* f : {"fork_server", "exec"}) {
      const Mode* base = find(b);
      const Mode* fix = find(f);
      if (base == nullptr || fix == nullptr || base == fix) continue;
      rows.push_back({b, f, ratio(*base, *fix, Figure::kStartToReady), ratio(*base, *fix, Figure::kFullCycle)});
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
  printf("\nratios of p50s            %14s %14s\n", "start->ready", "full cycle");
  for (const RatioRow& r : ratios) {
    std::string name = absl::StrCat(r.baseline, " / ", r.fixture);
    printf("%-25s %13.1fx %13.1fx\n", name.c_str(), r.start_to_ready, r.full_cycle);
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
  v1::ChildPeakRss* rss = out.mutable_child_peak_rss_kb();
  rss->set_p50(static_cast<int32_t>(m.samples.MedianRssKb()));
  rss->set_max(static_cast<int32_t>(m.samples.MaxRssKb()));
  rss->set_source(RssSource(m));
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

}  // namespace

std::string LoadAverage() {
  double load[3];
  if (getloadavg(load, 3) != 3) return "?";
  return absl::StrFormat("%.2f %.2f %.2f", load[0], load[1], load[2]);
}

void PrintTable(const std::vector<Mode>& modes, const v1::Config& config, const std::optional<SoakResult>& soak) {
  PrintHeader(config);
  for (const Mode& m : modes) PrintMode(m, config);
  PrintSummary(modes);
  PrintNotes(modes, config);
  if (soak.has_value()) PrintSoak(*soak);
  fflush(stdout);
}

v1::Report BuildReport(const std::vector<Mode>& modes, const v1::Config& config,
                       const std::optional<SoakResult>& soak) {
  v1::Report report;
  report.set_benchmark("lifecycle_bench");
  *report.mutable_config() = config;
  for (const Mode& m : modes) (*report.mutable_modes())[m.name] = ModeToProto(m);
  for (const RatioRow& r : Ratios(modes)) {
    v1::Ratio& ratio = (*report.mutable_ratios())[absl::StrCat(r.baseline, "/", r.fixture)];
    if (std::isfinite(r.start_to_ready)) ratio.set_start_to_ready_p50(Rounded(r.start_to_ready, 2));
    if (std::isfinite(r.full_cycle)) ratio.set_full_cycle_p50(Rounded(r.full_cycle, 2));
  }
  if (soak.has_value()) *report.mutable_soak() = SoakToProto(*soak);
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
