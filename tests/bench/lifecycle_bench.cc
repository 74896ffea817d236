// lifecycle_bench: the cost of a fixture's life (start, first RPC, control
// call, stop) measured against what users would otherwise pick, in one run.
//
// Modes, interleaved round-robin so that machine noise hits all alike:
//   fork_server      FixtureOptions.server: a FIXTURE_SERVER of this binary,
//                    forked by the fork server (started first thing in main).
//   exec             FixtureOptions.program = fixture::Binary{"example/kv_server"}: fork+exec.
//   poll_1ms/10ms/100ms
//                    The polling tools' way (rules_itest, Testcontainers,
//                    pytest-xprocess): fork+exec of the same kv_server without
//                    the readiness pipe, on a port picked by binding port 0 and
//                    closing it, ready once connect() to that port succeeds
//                    (tried every 1/10/100 ms), stopped by SIGINT + waitpid.
//   floor_fork_exit  fork, _exit(0) in the child, waitpid.
//   floor_exec_true  fork, execve(/bin/true), waitpid.
//
// Figures per mode (microseconds, p50/p90/p99): start->ready, first RPC (a KV
// Put on a new channel), GetStatus on the control channel (fixture modes; the
// first call, which connects, and a second one), stop (request -> reaped),
// full cycle; the child's peak RSS; cycles per second (measured cycles over
// the sum of their full-cycle times). Then the ratios of the baselines' p50s
// to the fixture modes'. --json=PATH writes the same figures.
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
// mode and checks that this process has as many open descriptors, threads,
// child processes (its own and the fork server's) and fixture temp dirs after
// as before; it exits 1 if not.
//
// The bench process uses gRPC: every fork() it makes itself is followed at once
// by execve(2) or _exit(2), with only async-signal-safe calls in between.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "fixture/executable_path.h"
#include "fixture/fixture.h"
#include "fixture/fork_server.h"
#include "grpc/grpc.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "example/kv.grpc.pb.h"
#include "example/kv_service.h"
#include "server/registry.h"

extern char** environ;

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
          "Run only these modes (comma-separated; default all): fork_server, exec, poll_1ms, poll_10ms, "
          "poll_100ms, floor_fork_exit, floor_exec_true.");

// The in-process server of the fork_server mode: the same service kv_server
// serves, with the same label.
FIXTURE_SERVER(BenchKv, setup, args) {
  static fixture::example::KeyValueService kv;  // One per child process.
  setup.SetLabel("server", "kv_server");
  return setup.AddService(&kv);
}

namespace {

using Clock = std::chrono::steady_clock;
using fixture::example::v1::KeyValue;

// How long a polling baseline waits for its server before giving up.
constexpr auto kPollReadyTimeout = std::chrono::seconds(10);

double MicrosBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}
double MicrosSince(Clock::time_point from) { return MicrosBetween(from, Clock::now()); }

// --- Figures ------------------------------------------------------------------------

// Figure keys, in table order, with their labels.
struct FigureInfo {
  const char* key;
  const char* label;
};
constexpr FigureInfo kFigures[] = {
    {"start_to_ready", "start -> ready"},
    {"start_to_fork", "  (Launch -> forked)"},
    {"fork_to_ready", "  (forked -> ready)"},
    {"first_rpc", "first RPC (new channel)"},
    {"control_status_cold", "GetStatus (1st, connects)"},
    {"control_status", "GetStatus"},
    {"stop", "stop (request -> reaped)"},
    {"full_cycle", "full cycle"},
};

// One measured cycle: figure key -> microseconds, and the child's peak RSS.
struct Sample {
  std::map<std::string, double> us;
  std::map<std::string, std::vector<double>> more;  // Further values of a figure (--status_calls).
  long rss_kb = -1;
};

struct Percentiles {
  double p50 = NAN, p90 = NAN, p99 = NAN;
};

// Nearest-rank percentiles.
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

enum class Kind { kForkServer, kExec, kPoll, kFloorForkExit, kFloorExecTrue };

struct Mode {
  std::string name;
  std::string description;
  Kind kind;
  int poll_ms = 0;

  std::map<std::string, std::vector<double>> figures;
  std::vector<long> rss_kb;
  int failures = 0;
  // Baselines: the port race and its kin.
  int died_before_ready = 0;  // The server died before its port answered (the port was taken).
  int false_ready = 0;        // The port answered, but not (yet) from our server.
  std::string last_error;

  bool is_fixture() const { return kind == Kind::kForkServer || kind == Kind::kExec; }
  bool is_floor() const { return kind == Kind::kFloorForkExit || kind == Kind::kFloorExecTrue; }
  int iterations() const {
    auto it = figures.find("full_cycle");
    return it == figures.end() ? 0 : static_cast<int>(it->second.size());
  }
  Percentiles Of(const std::string& key) const {
    auto it = figures.find(key);
    return it == figures.end() ? Percentiles{} : PercentilesOf(it->second);
  }
  double CyclesPerSecond() const {
    auto it = figures.find("full_cycle");
    if (it == figures.end() || it->second.empty()) return NAN;
    double total = 0;
    for (double us : it->second) total += us;
    return static_cast<double>(it->second.size()) / (total / 1e6);
  }
  void Record(const Sample& sample) {
    for (const auto& [key, us] : sample.us) figures[key].push_back(us);
    for (const auto& [key, values] : sample.more) {
      figures[key].insert(figures[key].end(), values.begin(), values.end());
    }
    if (sample.rss_kb >= 0) rss_kb.push_back(sample.rss_kb);
  }
};

// --- /proc ----------------------------------------------------------------------------

// The value of `field` ("VmHWM", "Threads") in /proc/<pid>/status, or -1.
long ProcStatusField(const std::string& pid, absl::string_view field) {
  FILE* f = fopen(absl::StrCat("/proc/", pid, "/status").c_str(), "re");
  if (f == nullptr) return -1;
  char line[256];
  long value = -1;
  std::string prefix = absl::StrCat(field, ":");
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, prefix.c_str(), prefix.size()) == 0) {
      value = strtol(line + prefix.size(), nullptr, 10);
      break;
    }
  }
  fclose(f);
  return value;
}

long PeakRssKb(pid_t pid) { return ProcStatusField(absl::StrCat(pid), "VmHWM"); }

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // The descriptor of the directory being read.
}

// Processes whose parent is `parent` (zombies included), from /proc/<pid>/stat.
int CountChildrenOf(pid_t parent) {
  if (parent <= 0) return 0;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return -1;
  int count = 0;
  while (struct dirent* e = readdir(dir)) {
    int pid;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    FILE* f = fopen(absl::StrCat("/proc/", pid, "/stat").c_str(), "re");
    if (f == nullptr) continue;  // Gone meanwhile.
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
    const char* close_paren = strrchr(buf, ')');
    if (close_paren == nullptr) continue;
    char state;
    int ppid;
    if (sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == parent) ++count;
  }
  closedir(dir);
  return count;
}

// Entries of `dir` whose name starts with `prefix`.
int CountEntries(const std::string& dir_path, absl::string_view prefix) {
  DIR* dir = opendir(dir_path.c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (struct dirent* e = readdir(dir)) {
    if (absl::StartsWith(e->d_name, prefix)) ++count;
  }
  closedir(dir);
  return count;
}

// --- A hand-rolled JSON writer ------------------------------------------------------

class Json {
 public:
  Json& Begin(char bracket) {
    Separate();
    out_ += bracket;
    first_.push_back(true);
    return *this;
  }
  Json& End(char bracket) {
    first_.pop_back();
    out_ += '\n';
    Indent();
    out_ += bracket;
    return *this;
  }
  Json& Key(absl::string_view key) {
    Separate();
    String(key);
    out_ += ": ";
    after_key_ = true;
    return *this;
  }
  Json& Str(absl::string_view value) {
    Separate();
    String(value);
    return *this;
  }
  Json& Num(double value) {
    Separate();
    if (std::isfinite(value)) {
      out_ += absl::StrFormat("%.1f", value);
    } else {
      out_ += "null";
    }
    return *this;
  }
  Json& Ratio(double value) {
    Separate();
    out_ += std::isfinite(value) ? absl::StrFormat("%.2f", value) : "null";
    return *this;
  }
  Json& Int(long long value) {
    Separate();
    out_ += absl::StrCat(value);
    return *this;
  }
  Json& Bool(bool value) {
    Separate();
    out_ += value ? "true" : "false";
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    out_ += '\n';
    Indent();
  }
  void Indent() { out_.append(2 * first_.size(), ' '); }
  void String(absl::string_view s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (c < 0x20) {
            out_ += absl::StrFormat("\\u%04x", c);
          } else {
            out_ += static_cast<char>(c);
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

// --- The cycles -------------------------------------------------------------------------

// What every cycle needs, prepared once.
struct Context {
  std::string kv_server;                 // Absolute path of the server binary (--kv_server).
  std::vector<std::string> environment;  // Ours, less the launch protocol's variables.
  std::vector<char*> envp;
  std::string socket_base;  // FixtureOptions.socket_dir of every fixture here.
  int devnull = -1;
};

absl::Status PutOnNewChannel(const std::string& target) {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  std::unique_ptr<KeyValue::Stub> stub = KeyValue::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  fixture::example::v1::PutRequest request;
  request.set_key("bench");
  request.set_value("value");
  fixture::example::v1::PutResponse response;
  grpc::Status status = stub->Put(&context, request, &response);
  if (!status.ok()) return absl::UnavailableError(absl::StrCat("Put on ", target, ": ", status.error_message()));
  return absl::OkStatus();
}

// One cycle of a fixture mode: Start, Put on a new channel, GetStatus twice,
// peak RSS, Stop.
absl::Status FixtureCycle(const Context& ctx, const Mode& mode, Sample* sample) {
  fixture::FixtureOptions options;
  options.name = mode.name;
  if (mode.kind == Kind::kForkServer) {
    options.program = fixture::Registered{"BenchKv"};
  } else {
    options.program = fixture::Binary{absl::GetFlag(FLAGS_kv_server)};  // As a test names it: looked up by Start().
  }
  options.socket_dir = ctx.socket_base;

  Clock::time_point start = Clock::now();
  absl::StatusOr<fixture::Fixture> f = fixture::Fixture::Start(std::move(options));
  if (!f.ok()) return f.status();
  sample->us["start_to_ready"] = MicrosSince(start);
  // The library's own timeline: Launch() began (after the option checks, the
  // private dir and the log files), fork returned (for the fork server: its
  // reply arrived), the ReadyNotice arrived.
  sample->us["start_to_fork"] = absl::ToDoubleMicroseconds(f->timeline().forked - f->timeline().start);
  sample->us["fork_to_ready"] = absl::ToDoubleMicroseconds(f->timeline().fork_to_ready());

  Clock::time_point t = Clock::now();
  absl::StatusOr<std::string> endpoint = f->endpoint();
  if (!endpoint.ok()) return endpoint.status();
  if (absl::Status put = PutOnNewChannel(*endpoint); !put.ok()) return put;
  sample->us["first_rpc"] = MicrosSince(t);

  t = Clock::now();
  absl::StatusOr<fixture::v1::Status> status = f->status();
  if (!status.ok()) return status.status();
  sample->us["control_status_cold"] = MicrosSince(t);
  if (status->state() != fixture::v1::SERVING) {
    return absl::InternalError(absl::StrCat("GetStatus: state ", fixture::v1::State_Name(status->state())));
  }
  for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_status_calls)); ++i) {
    t = Clock::now();
    status = f->status();
    if (!status.ok()) return status.status();
    (i == 0 ? sample->us["control_status"] : sample->more["control_status"].emplace_back()) = MicrosSince(t);
  }

  sample->rss_kb = PeakRssKb(f->pid());

  t = Clock::now();
  absl::StatusOr<fixture::StopResult> stopped = f->Stop();
  Clock::time_point end = Clock::now();
  if (!stopped.ok()) return stopped.status();
  if (stopped->stage != fixture::StopStage::kControl || !stopped->exit.success()) {
    return absl::InternalError(absl::StrCat("stop not clean: ", stopped->ToString()));
  }
  sample->us["stop"] = MicrosBetween(t, end);
  sample->us["full_cycle"] = MicrosBetween(start, end);
  return absl::OkStatus();
}

// A free TCP port on 127.0.0.1 the polling tools' way: bind port 0, read the
// port, close. Someone else may bind it before the server does: the race the
// fixture avoids (its server binds port 0 itself and reports the port).
absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int error = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("bind/getsockname: ", strerror(error)));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// True if something accepts TCP connections on 127.0.0.1:port.
bool PortAnswers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

std::string WaitStatusText(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

pid_t Reap(pid_t pid, int* status, struct rusage* usage) {
  pid_t reaped;
  do {
    reaped = wait4(pid, status, 0, usage);
  } while (reaped < 0 && errno == EINTR);
  return reaped;
}

// One cycle of a polling baseline: pick a port, fork+exec kv_server on it,
// connect() every `poll_ms` until it answers, Put on a new channel, SIGINT,
// waitpid.
// What went wrong in a polling cycle, if anything.
enum class PollFailure { kNone, kDiedBeforeReady, kFalseReady, kOther };

absl::Status PollCycle(const Context& ctx, const Mode& mode, Sample* sample, PollFailure* failure) {
  *failure = PollFailure::kOther;
  Clock::time_point start = Clock::now();
  absl::StatusOr<int> port = PickFreePort();
  if (!port.ok()) return port.status();
  // Everything the child needs, before the fork.
  std::string address_flag = absl::StrCat("--address=127.0.0.1:", *port);
  char* argv[] = {const_cast<char*>(ctx.kv_server.c_str()), address_flag.data(), nullptr};
  char* const* envp = ctx.envp.data();
  const char* path = ctx.kv_server.c_str();
  int devnull = ctx.devnull;
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid == 0) {
    // Async-signal-safe calls only, then exec.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(126);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    syscall(SYS_close_range, 3, ~0U, 0);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, nullptr);
    sigaction(SIGTERM, &dfl, nullptr);
    sigaction(SIGPIPE, &dfl, nullptr);
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    execve(path, argv, envp);
    _exit(127);
  }
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));

  const struct timespec interval = {mode.poll_ms / 1000, (mode.poll_ms % 1000) * 1000000L};
  for (;;) {
    if (PortAnswers(*port)) break;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      *failure = PollFailure::kDiedBeforeReady;
      return absl::FailedPreconditionError(
          absl::StrCat("kv_server on port ", *port, " ", WaitStatusText(status),
                       " before its port answered (status 1: the port was taken meanwhile)"));
    }
    if (Clock::now() - start > kPollReadyTimeout) {
      kill(pid, SIGKILL);
      Reap(pid, &status, nullptr);
      return absl::DeadlineExceededError(absl::StrCat("port ", *port, " did not answer within 10s"));
    }
    nanosleep(&interval, nullptr);
  }
  sample->us["start_to_ready"] = MicrosSince(start);

  Clock::time_point t = Clock::now();
  absl::Status put = PutOnNewChannel(absl::StrCat("127.0.0.1:", *port));
  sample->us["first_rpc"] = MicrosSince(t);
  sample->rss_kb = PeakRssKb(pid);

  t = Clock::now();
  kill(pid, SIGINT);
  int status = 0;
  pid_t reaped = Reap(pid, &status, nullptr);
  Clock::time_point end = Clock::now();
  if (reaped != pid) return absl::InternalError(absl::StrCat("waitpid(", pid, "): ", strerror(errno)));
  if (!put.ok() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // Our kv_server did not serve that port when the poller said ready: it
    // could not bind it (status 1), had not even installed its SIGINT
    // handling (killed by SIGINT), or the Put found nobody there.
    *failure = PollFailure::kFalseReady;
    return absl::FailedPreconditionError(absl::StrCat(
        "port ", *port, " answered the poller, but ",
        put.ok() ? "" : absl::StrCat("the Put failed (", put.message(), ") and "), "kv_server ", WaitStatusText(status),
        " after SIGINT: the poller reached another process's socket on that port (the port race) or its own "
        "(a TCP self-connect)"));
  }
  sample->us["stop"] = MicrosBetween(t, end);
  sample->us["full_cycle"] = MicrosBetween(start, end);
  return absl::OkStatus();
}

// The floors: what a process costs at all. The child's peak RSS is wait4's
// ru_maxrss: the forked copy of this (gRPC-linked) process's page tables.
absl::Status FloorCycle(const Context& ctx, const Mode& mode, Sample* sample) {
  static char true_path[] = "/bin/true";
  char* argv[] = {true_path, nullptr};
  char* const* envp = ctx.envp.data();
  bool exec = mode.kind == Kind::kFloorExecTrue;

  Clock::time_point start = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    if (exec) execve(true_path, argv, envp);
    _exit(exec ? 127 : 0);
  }
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  int status = 0;
  struct rusage usage = {};
  pid_t reaped = Reap(pid, &status, &usage);
  Clock::time_point end = Clock::now();
  if (reaped != pid) return absl::InternalError(absl::StrCat("wait4(", pid, "): ", strerror(errno)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("child ", WaitStatusText(status)));
  }
  sample->us["full_cycle"] = MicrosBetween(start, end);
  sample->rss_kb = usage.ru_maxrss;
  return absl::OkStatus();
}

absl::Status RunCycle(const Context& ctx, Mode& mode, Sample* sample) {
  switch (mode.kind) {
    case Kind::kForkServer:
    case Kind::kExec:
      return FixtureCycle(ctx, mode, sample);
    case Kind::kPoll: {
      PollFailure failure = PollFailure::kNone;
      absl::Status s = PollCycle(ctx, mode, sample, &failure);
      if (s.ok()) return s;
      if (failure == PollFailure::kDiedBeforeReady) ++mode.died_before_ready;
      if (failure == PollFailure::kFalseReady) ++mode.false_ready;
      return s;
    }
    case Kind::kFloorForkExit:
    case Kind::kFloorExecTrue:
      return FloorCycle(ctx, mode, sample);
  }
  return absl::InternalError("unknown mode");
}

// --- Soak -------------------------------------------------------------------------------

struct Resources {
  int fds = 0;
  long threads = 0;
  int children = 0;              // Processes whose parent is this one (the fork server included).
  int fork_server_children = 0;  // Processes whose parent is the fork server.
  int temp_dirs = 0;             // fixture-* under the socket base.
  int tmp_fixture_dirs = 0;      // /tmp/fixture-*, shared with every other process: not checked.

  bool SameAs(const Resources& o) const {
    return fds == o.fds && threads == o.threads && children == o.children &&
           fork_server_children == o.fork_server_children && temp_dirs == o.temp_dirs;
  }
};

Resources Measure(const Context& ctx) {
  Resources r;
  r.fds = CountOpenFds();
  r.threads = ProcStatusField("self", "Threads");
  r.children = CountChildrenOf(getpid());
  r.fork_server_children = CountChildrenOf(fixture::ForkServerPid());
  r.temp_dirs = CountEntries(ctx.socket_base, "fixture-");
  r.tmp_fixture_dirs = CountEntries("/tmp", "fixture-");
  return r;
}

struct SoakResult {
  int cycles = 0;
  int failures = 0;
  Resources before, after;
  double settle_ms = 0;
  bool equal = false;
  double slowest_us = 0;
  std::string slowest_mode;
  int slowest_index = -1;
  std::map<std::string, std::vector<double>> cycle_us;  // Per mode.
};

// gRPC ends some threads and closes some descriptors asynchronously after the
// last channel goes: measures until the process is quiet (the same figures 10
// times in a row, 10 ms apart) or, given `target`, until it matches it; at
// most 2 s. Returns how long it waited in *waited_ms.
Resources Settle(const Context& ctx, const Resources* target, double* waited_ms) {
  Clock::time_point start = Clock::now();
  Resources last = Measure(ctx);
  int same = 1;
  while (Clock::now() - start < std::chrono::seconds(2)) {
    if (target != nullptr ? last.SameAs(*target) : same >= 10) break;
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    nanosleep(&ten_ms, nullptr);
    Resources now = Measure(ctx);
    same = now.SameAs(last) ? same + 1 : 1;
    last = now;
  }
  *waited_ms = MicrosSince(start) / 1000;
  return last;
}

SoakResult RunSoak(const Context& ctx, int cycles) {
  SoakResult result;
  result.cycles = cycles;
  Mode modes[] = {{"fork_server", "", Kind::kForkServer}, {"exec", "", Kind::kExec}};
  // Two unmeasured cycles each, so that what lives as long as the process
  // (the fork thread, gRPC's threads and pollers) exists before we count.
  for (int i = 0; i < 2; ++i) {
    for (Mode& mode : modes) {
      Sample ignored;
      RunCycle(ctx, mode, &ignored).IgnoreError();
    }
  }
  double ignored_ms;
  result.before = Settle(ctx, nullptr, &ignored_ms);
  for (int i = 0; i < cycles; ++i) {
    for (Mode& mode : modes) {
      Sample sample;
      absl::Status s = RunCycle(ctx, mode, &sample);
      if (!s.ok()) {
        ++result.failures;
        fprintf(stderr, "soak %s cycle %d: %s\n", mode.name.c_str(), i, s.ToString().c_str());
        continue;
      }
      double us = sample.us["full_cycle"];
      result.cycle_us[mode.name].push_back(us);
      if (us > result.slowest_us) {
        result.slowest_us = us;
        result.slowest_mode = mode.name;
        result.slowest_index = i;
      }
    }
  }
  // Up to 2 s for the asynchronous part of the last cycle to end, before a
  // difference is called a leak.
  result.after = Settle(ctx, &result.before, &result.settle_ms);
  result.equal = result.after.SameAs(result.before);
  return result;
}

// --- Output -----------------------------------------------------------------------------

std::string Us(double us) {
  if (!std::isfinite(us)) return "-";
  // Thousands separators: 12,345.
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

long MedianKb(std::vector<long> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}
long MaxKb(const std::vector<long>& v) { return v.empty() ? -1 : *std::max_element(v.begin(), v.end()); }

struct RatioRow {
  std::string baseline, fixture;
  double start_to_ready = NAN, full_cycle = NAN;
};

std::vector<RatioRow> Ratios(const std::vector<Mode>& modes) {
  std::vector<RatioRow> rows;
  auto find = [&](const std::string& name) -> const Mode* {
    for (const Mode& m : modes) {
      if (m.name == name && m.iterations() > 0) return &m;
    }
    return nullptr;
  };
  const char* bases[] = {"poll_1ms", "poll_10ms", "poll_100ms", "exec"};
  const char* fixtures[] = {"fork_server", "exec"};
  for (const char* b : bases) {
    for (const char* f : fixtures) {
      if (std::string(b) == f) continue;
      const Mode* base = find(b);
      const Mode* fix = find(f);
      if (base == nullptr || fix == nullptr) continue;
      RatioRow row{b, f};
      row.start_to_ready = base->Of("start_to_ready").p50 / fix->Of("start_to_ready").p50;
      row.full_cycle = base->Of("full_cycle").p50 / fix->Of("full_cycle").p50;
      rows.push_back(row);
    }
  }
  return rows;
}

std::string LoadAverage() {
  double load[3];
  if (getloadavg(load, 3) != 3) return "?";
  return absl::StrFormat("%.2f %.2f %.2f", load[0], load[1], load[2]);
}

void PrintTable(const std::vector<Mode>& modes, int iterations, int warmup, const std::string& load_before,
                const std::optional<SoakResult>& soak) {
  struct utsname u;
  uname(&u);
  printf("lifecycle_bench: %d measured cycles per mode after %d warm-up, modes interleaved round-robin\n", iterations,
         warmup);
  printf("machine: %ld CPUs, Linux %s; load average %s before, %s after\n", sysconf(_SC_NPROCESSORS_ONLN), u.release,
         load_before.c_str(), LoadAverage().c_str());
  printf("times in microseconds\n\n");
  printf("%-16s %-26s %10s %10s %10s\n", "mode", "figure", "p50", "p90", "p99");
  for (const Mode& m : modes) {
    printf("%-16s %s\n", m.name.c_str(), m.description.c_str());
    for (const FigureInfo& fig : kFigures) {
      if (m.figures.find(fig.key) == m.figures.end()) continue;
      Percentiles p = m.Of(fig.key);
      printf("%-16s %-26s %10s %10s %10s\n", "", fig.label, Us(p.p50).c_str(), Us(p.p90).c_str(), Us(p.p99).c_str());
    }
    std::string extra;
    if (m.died_before_ready > 0) absl::StrAppend(&extra, ", ", m.died_before_ready, " died before ready");
    if (m.false_ready > 0) absl::StrAppend(&extra, ", ", m.false_ready, " ready on a port not (yet) theirs");
    printf("%-16s child peak RSS %s (p50), %s (max)%s; %.1f cycles/s; %d measured, %d of %d cycles failed%s\n\n", "",
           Mib(MedianKb(m.rss_kb)).c_str(), Mib(MaxKb(m.rss_kb)).c_str(),
           m.is_floor() ? " [wait4 ru_maxrss]" : " [VmHWM before stop]", m.CyclesPerSecond(), m.iterations(),
           m.failures, warmup + iterations, extra.c_str());
  }

  printf("summary (p50)    %14s %14s %12s %12s\n", "start->ready", "full cycle", "cycles/s", "child RSS");
  for (const Mode& m : modes) {
    printf("%-16s %14s %14s %12.1f %12s\n", m.name.c_str(), Ms(m.Of("start_to_ready").p50).c_str(),
           Ms(m.Of("full_cycle").p50).c_str(), m.CyclesPerSecond(), Mib(MedianKb(m.rss_kb)).c_str());
  }

  std::vector<RatioRow> ratios = Ratios(modes);
  if (!ratios.empty()) {
    printf("\nratios of p50s            %14s %14s\n", "start->ready", "full cycle");
    for (const RatioRow& r : ratios) {
      std::string name = absl::StrCat(r.baseline, " / ", r.fixture);
      printf("%-25s %13.1fx %13.1fx\n", name.c_str(), r.start_to_ready, r.full_cycle);
    }
  }

  bool any_poll = false;
  for (const Mode& m : modes) any_poll |= m.kind == Kind::kPoll;
  if (any_poll) {
    int died = 0, false_ready = 0, cycles = 0;
    for (const Mode& m : modes) {
      if (m.kind != Kind::kPoll) continue;
      died += m.died_before_ready;
      false_ready += m.false_ready;
      cycles += warmup + iterations;
    }
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
      "note: a full cycle is start + first RPC + stop, plus for the fixture modes two GetStatus calls and the\n"
      "      RSS read; the baselines make no control call.\n");

  if (soak.has_value()) {
    const SoakResult& s = *soak;
    printf("\nsoak: %d start/stop cycles each of fork_server and exec, %d failed\n", s.cycles, s.failures);
    printf("  %-44s %8s %8s\n", "", "before", "after");
    auto row = [](const char* what, long a, long b, bool checked) {
      printf("  %-44s %8ld %8ld%s\n", what, a, b,
             !checked ? "  (shared with other processes: not checked)" : (a == b ? "" : "  <-- differs"));
    };
    row("open descriptors (/proc/self/fd)", s.before.fds, s.after.fds, true);
    row("threads (/proc/self/status)", s.before.threads, s.after.threads, true);
    row("child processes (fork server included)", s.before.children, s.after.children, true);
    row("children of the fork server", s.before.fork_server_children, s.after.fork_server_children, true);
    row("fixture-* temp dirs under the socket base", s.before.temp_dirs, s.after.temp_dirs, true);
    row("/tmp/fixture-*", s.before.tmp_fixture_dirs, s.after.tmp_fixture_dirs, false);
    for (const auto& [name, us] : s.cycle_us) {
      Percentiles p = PercentilesOf(us);
      printf("  %-12s cycle p50 %s, p99 %s\n", name.c_str(), Ms(p.p50).c_str(), Ms(p.p99).c_str());
    }
    printf("  slowest cycle: %s (%s, cycle %d)\n", Ms(s.slowest_us).c_str(), s.slowest_mode.c_str(), s.slowest_index);
    printf("  %s (after settling %.0f ms)\n", s.equal ? "resources back where they were: OK" : "LEAK: resources differ",
           s.settle_ms);
  }
  fflush(stdout);
}

void WriteResources(Json& j, const Resources& r) {
  j.Begin('{');
  j.Key("open_fds").Int(r.fds);
  j.Key("threads").Int(r.threads);
  j.Key("child_processes").Int(r.children);
  j.Key("fork_server_children").Int(r.fork_server_children);
  j.Key("temp_dirs").Int(r.temp_dirs);
  j.Key("tmp_fixture_dirs_unchecked").Int(r.tmp_fixture_dirs);
  j.End('}');
}

std::string ToJson(const std::vector<Mode>& modes, int iterations, int warmup, const std::string& load_before,
                   const std::optional<SoakResult>& soak) {
  Json j;
  j.Begin('{');
  j.Key("benchmark").Str("lifecycle_bench");
  j.Key("config").Begin('{');
  j.Key("iterations").Int(iterations);
  j.Key("warmup").Int(warmup);
  j.Key("cpus").Int(sysconf(_SC_NPROCESSORS_ONLN));
  j.Key("order").Str("round-robin");
  j.Key("hold_grpc").Bool(absl::GetFlag(FLAGS_hold_grpc));
  j.Key("status_calls").Int(absl::GetFlag(FLAGS_status_calls));
  j.Key("tmpdir").Str(absl::GetFlag(FLAGS_tmpdir));
  j.Key("load_average_before").Str(load_before);
  j.Key("load_average_after").Str(LoadAverage());
  j.End('}');
  j.Key("modes").Begin('{');
  for (const Mode& m : modes) {
    j.Key(m.name).Begin('{');
    j.Key("description").Str(m.description);
    j.Key("kind").Str(m.is_fixture() ? "fixture" : m.is_floor() ? "floor" : "baseline");
    if (m.kind == Kind::kPoll) j.Key("poll_interval_ms").Int(m.poll_ms);
    j.Key("iterations").Int(m.iterations());
    j.Key("failures").Int(m.failures);
    if (m.kind == Kind::kPoll) {
      j.Key("died_before_ready").Int(m.died_before_ready);
      j.Key("false_ready").Int(m.false_ready);
    }
    if (!m.last_error.empty()) j.Key("last_error").Str(m.last_error);
    for (const FigureInfo& fig : kFigures) {
      if (m.figures.find(fig.key) == m.figures.end()) continue;
      Percentiles p = m.Of(fig.key);
      j.Key(fig.key).Begin('{');
      j.Key("p50_us").Num(p.p50);
      j.Key("p90_us").Num(p.p90);
      j.Key("p99_us").Num(p.p99);
      j.End('}');
    }
    j.Key("child_peak_rss_kb").Begin('{');
    j.Key("p50").Int(MedianKb(m.rss_kb));
    j.Key("max").Int(MaxKb(m.rss_kb));
    j.Key("source").Str(m.is_floor() ? "wait4 ru_maxrss" : "/proc/<pid>/status VmHWM before stop");
    j.End('}');
    j.Key("cycles_per_sec").Num(m.CyclesPerSecond());
    j.End('}');
  }
  j.End('}');
  j.Key("ratios").Begin('{');
  for (const RatioRow& r : Ratios(modes)) {
    j.Key(absl::StrCat(r.baseline, "/", r.fixture)).Begin('{');
    j.Key("start_to_ready_p50").Ratio(r.start_to_ready);
    j.Key("full_cycle_p50").Ratio(r.full_cycle);
    j.End('}');
  }
  j.End('}');
  if (soak.has_value()) {
    const SoakResult& s = *soak;
    j.Key("soak").Begin('{');
    j.Key("cycles_per_mode").Int(s.cycles);
    j.Key("failures").Int(s.failures);
    j.Key("before");
    WriteResources(j, s.before);
    j.Key("after");
    WriteResources(j, s.after);
    j.Key("equal").Bool(s.equal);
    j.Key("settle_ms").Num(s.settle_ms);
    j.Key("slowest_cycle_us").Num(s.slowest_us);
    j.Key("slowest_cycle_mode").Str(s.slowest_mode);
    j.Key("slowest_cycle_index").Int(s.slowest_index);
    j.End('}');
  }
  j.End('}');
  return j.str() + "\n";
}

std::vector<Mode> AllModes() {
  return {
      {"fork_server", "FixtureOptions.server: FIXTURE_SERVER forked by the fork server; readiness pipe",
       Kind::kForkServer},
      {"exec", "FixtureOptions.program = fixture::Binary{example}/kv_server: fork+exec; readiness pipe", Kind::kExec},
      {"poll_1ms", "fork+exec kv_server on a picked port; connect() poll every 1 ms; SIGINT", Kind::kPoll, 1},
      {"poll_10ms", "fork+exec kv_server on a picked port; connect() poll every 10 ms; SIGINT", Kind::kPoll, 10},
      {"poll_100ms", "fork+exec kv_server on a picked port; connect() poll every 100 ms; SIGINT", Kind::kPoll, 100},
      {"floor_fork_exit", "fork, _exit(0), waitpid", Kind::kFloorForkExit},
      {"floor_exec_true", "fork, execve(/bin/true), waitpid", Kind::kFloorExecTrue},
  };
}

}  // namespace

int main(int argc, char** argv) {
  // First thing: the process is still single-threaded and has not used gRPC.
  absl::Status fork_server = fixture::StartForkServer();
  absl::ParseCommandLine(argc, argv);
  if (!fork_server.ok()) {
    fprintf(stderr, "lifecycle_bench: no fork server: %s\n", fork_server.ToString().c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_hold_grpc)) grpc_init();  // Never undone: held until exit.
  const int iterations = absl::GetFlag(FLAGS_iterations);
  const int warmup = absl::GetFlag(FLAGS_warmup);
  const int soak_cycles = absl::GetFlag(FLAGS_soak);
  if (iterations < 0 || warmup < 0 || soak_cycles < 0) {
    fprintf(stderr, "lifecycle_bench: --iterations, --warmup and --soak must not be negative\n");
    return 2;
  }

  std::vector<Mode> modes;
  std::vector<std::string> wanted = absl::GetFlag(FLAGS_modes);
  for (Mode& m : AllModes()) {
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), m.name) != wanted.end()) modes.push_back(m);
  }
  if (modes.size() != (wanted.empty() ? AllModes().size() : wanted.size())) {
    fprintf(stderr, "lifecycle_bench: --modes: unknown mode in \"%s\"\n", absl::StrJoin(wanted, ",").c_str());
    return 2;
  }

  Context ctx;
  absl::StatusOr<std::string> kv_server = fixture::FindExecutable(absl::GetFlag(FLAGS_kv_server));
  if (!kv_server.ok()) {
    fprintf(stderr, "lifecycle_bench: %s\n", kv_server.status().ToString().c_str());
    return 1;
  }
  ctx.kv_server = *kv_server;
  if (ctx.kv_server[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) != nullptr) ctx.kv_server = absl::StrCat(cwd, "/", ctx.kv_server);
  }
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    // kv_server runs standalone in the baselines: no launch protocol.
    if (!absl::StartsWith(*e, "FIXTURE_")) ctx.environment.push_back(*e);
  }
  for (std::string& e : ctx.environment) ctx.envp.push_back(e.data());
  ctx.envp.push_back(nullptr);
  ctx.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  // A socket base of our own, so that the temp-dir count of the soak sees our
  // fixtures alone (others' tests create /tmp/fixture-* too).
  std::string base = absl::StrCat(absl::GetFlag(FLAGS_tmpdir), "/lifecycle-bench-XXXXXX");
  if (ctx.devnull < 0 || mkdtemp(base.data()) == nullptr) {
    fprintf(stderr, "lifecycle_bench: /dev/null or mkdtemp(%s): %s\n", base.c_str(), strerror(errno));
    return 1;
  }
  ctx.socket_base = base;

  std::string load_before = LoadAverage();
  bool failed = false;
  // Round-robin: cycle i of every mode, then cycle i+1.
  for (int i = 0; i < warmup + iterations; ++i) {
    bool measured = i >= warmup;
    for (Mode& mode : modes) {
      Sample sample;
      absl::Status s = RunCycle(ctx, mode, &sample);
      if (!s.ok()) {
        ++mode.failures;
        mode.last_error = s.ToString();
        fprintf(stderr, "lifecycle_bench: %s cycle %d: %s\n", mode.name.c_str(), i, s.ToString().c_str());
        continue;
      }
      if (measured) mode.Record(sample);
    }
  }
  for (const Mode& mode : modes) {
    // A fixture must never fail; a baseline may lose a port race now and then.
    if (mode.is_fixture() ? mode.failures > 0 : (iterations > 0 && mode.iterations() == 0)) failed = true;
  }

  std::optional<SoakResult> soak;
  if (soak_cycles > 0) {
    soak = RunSoak(ctx, soak_cycles);
    if (!soak->equal || soak->failures > 0) failed = true;
  }

  PrintTable(modes, iterations, warmup, load_before, soak);

  if (std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::string json = ToJson(modes, iterations, warmup, load_before, soak);
    FILE* f = fopen(path.c_str(), "we");
    if (f == nullptr || fwrite(json.data(), 1, json.size(), f) != json.size() || fclose(f) != 0) {
      fprintf(stderr, "lifecycle_bench: cannot write %s: %s\n", path.c_str(), strerror(errno));
      failed = true;
    } else {
      printf("\nJSON written to %s\n", path.c_str());
    }
  }
  if (rmdir(ctx.socket_base.c_str()) != 0) {
    fprintf(stderr, "lifecycle_bench: %s not removed: %s\n", ctx.socket_base.c_str(), strerror(errno));
    failed = true;
  }
  if (failed) fprintf(stderr, "lifecycle_bench: FAILED (see above)\n");
  return failed ? 1 : 0;
}
