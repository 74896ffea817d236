// readiness_bench: how soon a fixture knows that a third-party server is
// ready, pushed (sd_notify) against polled (its TCP port every 1, 10 or
// 100 ms, as rules_itest, Testcontainers and pytest-xprocess do; and the
// fixture's own tcp strategy with its backoff), in one interleaved run on
// Debian's redis-server.
//
//   bazel run -c opt //tests/bench:readiness_bench -- --cycles=30 --json=/tmp/r.json
//
// Each cycle runs every mode once, in turn, so that all see the same machine.
// A mode's figure is fork -> ready: for a fixture, its timeline's
// fork_to_ready (the fork, to the moment the strategy saw it ready); for a
// polling baseline, the spawn until the first connect(2) that succeeds. A
// fixture's whole Start() (private directory, logs, port reservation, the
// parent-served control socket, the /proc scan of what it listens on) is
// reported beside it as start_to_ready. The JSON has every mode's
// p50/p90/p99 and the ratios poll_<N>ms / sd_notify of fork -> ready.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fixture/fixture.h"
#include "fixture/launch/unique_fd.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/bench/figures.h"
#include <arpa/inet.h>
#include <netinet/in.h>

ABSL_FLAG(int, cycles, 20, "cycles; each runs every mode once");
ABSL_FLAG(std::string, json, "", "write the figures and ratios here as JSON");
ABSL_FLAG(std::string, redis, "/usr/bin/redis-server", "the redis-server binary");

namespace fixture::bench {
namespace {

const std::vector<std::string> kRedisArgs = {"--save", "", "--appendonly", "no", "--bind", "127.0.0.1"};

// A free port: bound on 0, then let go (the baselines do what peers do).
int FreePort() {
  UniqueFd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(sock.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(sock.get(), reinterpret_cast<struct sockaddr*>(&address), &length) != 0) {
    return -1;
  }
  return ntohs(address.sin_port);
}

bool Connects(int port) {
  UniqueFd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return connect(sock.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof address) == 0;
}

// The peers' way: spawn, then try the port every `interval`.
absl::StatusOr<double> PollCycle(absl::Duration interval) {
  int port = FreePort();
  std::vector<std::string> args = {absl::GetFlag(FLAGS_redis), "--port", absl::StrCat(port)};
  args.insert(args.end(), kRedisArgs.begin(), kRedisArgs.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  Clock::time_point start = Clock::now();
  pid_t pid = -1;
  int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return absl::InternalError(absl::StrCat("posix_spawn(", argv[0], "): ", strerror(error)));
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!Connects(port) && absl::Now() < deadline) absl::SleepFor(interval);
  double us = MicrosSince(start);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  if (absl::Now() >= deadline) return absl::DeadlineExceededError("redis never listened");
  return us;
}

absl::StatusOr<double> FixtureCycle(Readiness ready, std::vector<double>* start_to_ready) {
  FixtureOptions options;
  options.name = "redis";
  options.program = Binary{absl::GetFlag(FLAGS_redis)};
  options.args = {"--port", "{port:redis}", "--supervised", "systemd"};
  options.args.insert(options.args.end(), kRedisArgs.begin(), kRedisArgs.end());
  options.ports = {"redis"};
  options.ready = std::move(ready);
  Clock::time_point start = Clock::now();
  absl::StatusOr<Fixture> redis = Fixture::Start(options);
  start_to_ready->push_back(MicrosSince(start));
  if (!redis.ok()) return redis.status();
  double us = absl::ToDoubleMicroseconds(redis->timeline().fork_to_ready());
  absl::StatusOr<StopResult> stopped = redis->Stop();
  if (!stopped.ok()) return stopped.status();
  if (!stopped->clean()) return absl::InternalError(stopped->ToString());
  return us;
}

struct Mode {
  std::string name;
  std::function<absl::StatusOr<double>(std::vector<double>*)> cycle;
  std::vector<double> us;
  // A fixture's whole Start(); empty for a baseline.
  std::vector<double> start_to_ready;
};

void AddPercentiles(const std::vector<double>& us, google::protobuf::Struct* out) {
  Percentiles p = PercentilesOf(us);
  auto& fields = *out->mutable_fields();
  fields["p50_us"].set_number_value(p.p50);
  fields["p90_us"].set_number_value(p.p90);
  fields["p99_us"].set_number_value(p.p99);
}

int Main() {
  std::vector<Mode> modes = {
      {"sd_notify", [](std::vector<double>* s) { return FixtureCycle(ReadyBySdNotify{}, s); }},
      {"tcp_backoff", [](std::vector<double>* s) { return FixtureCycle(ReadyByTcp{"redis"}, s); }},
      {"poll_1ms", [](std::vector<double>*) { return PollCycle(absl::Milliseconds(1)); }},
      {"poll_10ms", [](std::vector<double>*) { return PollCycle(absl::Milliseconds(10)); }},
      {"poll_100ms", [](std::vector<double>*) { return PollCycle(absl::Milliseconds(100)); }},
  };
  std::vector<double> ignored;
  for (Mode& mode : modes) mode.cycle(&ignored).IgnoreError();  // Warm-up: page cache, first gRPC use.
  for (int i = 0; i < absl::GetFlag(FLAGS_cycles); ++i) {
    for (Mode& mode : modes) {
      absl::StatusOr<double> us = mode.cycle(&mode.start_to_ready);
      if (!us.ok()) {
        fprintf(stderr, "readiness_bench: %s: %s\n", mode.name.c_str(), us.status().ToString().c_str());
        return 1;
      }
      mode.us.push_back(*us);
    }
  }
  google::protobuf::Struct report;
  auto& json_modes = *(*report.mutable_fields())["modes"].mutable_struct_value()->mutable_fields();
  std::map<std::string, double> p50;
  printf("redis-server fork -> ready, %d cycles (us)\n%-12s %10s %10s %10s %16s\n", absl::GetFlag(FLAGS_cycles), "mode",
         "p50", "p90", "p99", "Start() p50");
  for (const Mode& mode : modes) {
    Percentiles p = PercentilesOf(mode.us);
    p50[mode.name] = p.p50;
    google::protobuf::Struct* json_mode = json_modes[mode.name].mutable_struct_value();
    AddPercentiles(mode.us, json_mode);
    std::string start = "-";
    if (!mode.start_to_ready.empty()) {
      AddPercentiles(mode.start_to_ready, (*json_mode->mutable_fields())["start_to_ready"].mutable_struct_value());
      start = absl::StrFormat("%.0f", PercentilesOf(mode.start_to_ready).p50);
    }
    printf("%-12s %10.0f %10.0f %10.0f %16s\n", mode.name.c_str(), p.p50, p.p90, p.p99, start.c_str());
  }
  auto& ratios = *(*report.mutable_fields())["ratios"].mutable_struct_value()->mutable_fields();
  for (const char* baseline : {"poll_1ms", "poll_10ms", "poll_100ms", "tcp_backoff"}) {
    double ratio = p50[baseline] / p50["sd_notify"];
    ratios[absl::StrCat(baseline, "/sd_notify")].set_number_value(ratio);
    printf("%s / sd_notify (p50): %.2fx\n", baseline, ratio);
  }
  if (std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    if (!google::protobuf::util::MessageToJsonString(report, &json, options).ok()) return 1;
    std::ofstream(path) << json;
  }
  return 0;
}

}  // namespace
}  // namespace fixture::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return fixture::bench::Main();
}
