#include "server/server_process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fixture/launch/clock_calibration.h"
#include "fixture/launch/proc_stat.h"
#include "fixture/launch/protocol.h"
#include "fixture/launch/socket_path.h"
#include "fixture/server/bounded_shutdown.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/grpc_helpers.h"
#include "server/log.h"
#include "server/parent_watch.h"

namespace fixture::server {
namespace {

// The control socket is private to the parent: only small requests expected.
constexpr int kControlMaxMessageBytes = 64 * 1024;
// Time the control server gets to finish after the service under test stopped:
// only control calls are left, and they all end when STOPPING is reached.
constexpr absl::Duration kControlShutdownGrace = absl::Milliseconds(100);

// The most passes over /proc that ending an orphaned group makes (each finds
// the members started while the one before ran; a member is killed in one).
constexpr int kMaxGroupKillPasses = 20;

// Adds server reflection to one builder (Mode::kAttached), unless the
// process-wide plugin (grpc::reflection::InitProtoReflectionServerBuilderPlugin,
// which the server's own code may have called) already put it there.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    grpc::reflection::ProtoServerReflectionPlugin reflection;
    for (const auto& plugin : *plugins) {
      if (plugin->name() == reflection.name()) return;
    }
    plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
  }
};

}  // namespace

ServerProcess::ServerProcess(const RunOptions& options, Mode mode)
    : options_(options),
      mode_(mode),
      parent_(getppid()),
      counter_(std::make_shared<CallCounter>()),
      control_calls_(std::make_shared<CallCounter>(/*per_method=*/false)),
      faults_(std::make_shared<FaultInjector>(options.control_address)),
      control_(&lifecycle_, counter_, faults_, options.name) {
  signal(SIGPIPE, SIG_IGN);  // A parent that went away must not kill us mid-write.
  // Nothing this process starts may hold the readiness pipe: its EOF must
  // mean that this process is gone.
  if (options_.ready_fd >= 0) fcntl(options_.ready_fd, F_SETFD, FD_CLOEXEC);
  if (options_.handle_signals) {
    signals_ = std::make_unique<SignalThread>(
        &lifecycle_, options_,
        mode_ == Mode::kRun ? SignalThread::Delivery::kSigwait : SignalThread::Delivery::kHandler);
  }
  // Started by a fixture: stop when whoever started this process has exited
  // (the fixture, or a wrapper that did not exec: a shell script), watched
  // through its pidfd (server/parent_watch.h says why not by the death signal
  // a forked child starts with, which the watch replaces). Only where the
  // watch cannot be set up, SIGTERM when the thread that started us dies.
  // Created after the signal thread, so that in kRun its thread inherits the
  // blocked termination signals.
  if (!options_.control_address.empty()) {
    absl::StatusOr<std::unique_ptr<ParentWatch>> watch = ParentWatch::Start(parent_, &lifecycle_, options_);
    if (watch.ok()) {
      parent_watch_ = *std::move(watch);
      prctl(PR_SET_PDEATHSIG, 0);
    } else {
      Log(options_.name, "cannot watch the process that started this server (%s): stopping on SIGTERM when it dies",
          watch.status().ToString());
      prctl(PR_SET_PDEATHSIG, SIGTERM);
    }
  }
  watchdog_ = std::make_unique<StuckWatchdog>(&lifecycle_, options_);
  // Off the critical path while the servers start (a fork-server child has
  // the value already: the helper calibrated before forking it).
  if (!AbseilClockCalibrated()) calibration_ = std::thread(CalibrateAbseilClock);
}

ServerProcess::~ServerProcess() { Finish(); }

bool ServerProcess::StartControl() {
  if (options_.control_address.empty()) return true;
  // Generic clients in any language can then find FixtureControl (server
  // reflection) and follow readiness (grpc.health.v1.Health).
  const bool health_was_enabled = grpc::DefaultHealthCheckServiceEnabled();
  grpc::EnableDefaultHealthCheckService(true);
  // Process-wide switches in kRun: the endpoints of the service under test
  // get them too. (A builder takes the plugins registered when it is made.)
  if (mode_ == Mode::kRun) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (mode_ == Mode::kAttached) builder.SetOption(std::make_unique<ReflectionOption>());
  builder.AddListeningPort(options_.control_address, grpc::InsecureServerCredentials());
  builder.RegisterService(&control_);
  builder.experimental().SetInterceptorCreators(control_calls_->Factories());
  builder.SetMaxReceiveMessageSize(kControlMaxMessageBytes);
  ApplySyncServerOptions(builder);
  control_server_ = builder.BuildAndStart();
  // NOT_SERVING from the first moment of a stop, before the Shutdown that
  // asked for it answers. The server outlives the first stop request:
  // Finish() makes one before ShutdownControl().
  lifecycle_.OnStopRequest([server = control_server_.get()] { SetHealth(server, false); });
  // The server under test is left as its own code built it (health is read
  // when a server is built).
  if (mode_ == Mode::kAttached) grpc::EnableDefaultHealthCheckService(health_was_enabled);
  SetHealth(control_server_.get(), false);  // SERVING only once the service under test is.
  if (control_server_ == nullptr) {
    Log(options_.name, "cannot serve control on %s (the directory must exist and the path fit in %d bytes)",
        options_.control_address, kMaxUnixSocketPath);
    return false;
  }
  // The directory is 0700 already; the socket itself is the owner's alone too.
  std::string path = UnixSocketPath(options_.control_address);
  if (!path.empty() && chmod(path.c_str(), 0600) != 0) {
    Log(options_.name, "chmod(%s, 0600): %s", path, strerror(errno));
  }
  return true;
}

void ServerProcess::Ready(const std::vector<v1::Endpoint>& bound) {
  control_.SetEndpoints(bound);
  if (!lifecycle_.Advance(v1::SERVING)) return;  // A stop came first.
  SetHealth(control_server_.get(), true);
  // A stop that came in between found health NOT_SERVING to set, and set it
  // before this SERVING: say NOT_SERVING again.
  if (lifecycle_.state() != v1::SERVING) SetHealth(control_server_.get(), false);
  if (options_.ready_fd < 0) {
    std::string list;
    for (const v1::Endpoint& e : bound) absl::StrAppend(&list, " ", e.name(), "=", e.address());
    Log(options_.name, "serving:%s", list);
    return;
  }
  v1::ReadyNotice notice;
  notice.set_pid(getpid());
  for (const v1::Endpoint& e : bound) *notice.add_endpoints() = e;
  absl::Status written = launch::WriteReadyNotice(options_.ready_fd, notice);
  if (!written.ok()) Log(options_.name, "cannot report readiness: %s", written.ToString());
  // Kept open (close-on-exec, see the constructor) until exit, so that its
  // EOF tells the parent we are gone.
}

void ServerProcess::AwaitStopRequest() {
  lifecycle_.AwaitStopRequest();
  SetHealth(control_server_.get(), false);
}

absl::Time ServerProcess::AwaitDrainEnd() {
  absl::Time deadline = lifecycle_.AwaitDrainEnd();
  faults_->Stop();  // A delayed call must not hold the stop.
  return deadline;
}

absl::Time ServerProcess::AwaitStop() {
  AwaitStopRequest();
  return AwaitDrainEnd();
}

void ServerProcess::Finish() {
  if (finished_) return;
  finished_ = true;
  if (calibration_.joinable()) calibration_.join();
  lifecycle_.RequestStop(absl::ZeroDuration());  // Wakes the watchdog if we fail early.
  // Control calls open now are streams (Watch) that end with STOPPING: their
  // clients must get to read the end before the connections are dropped.
  bool streams_ending = !control_calls_->AwaitIdle(absl::Now());
  lifecycle_.Advance(v1::STOPPING);
  ShutdownControl(/*linger=*/streams_ending);
  const bool orphaned = !options_.control_address.empty() &&
                        (getppid() != parent_ || (parent_watch_ != nullptr && parent_watch_->parent_gone()));
  parent_watch_.reset();
  if (orphaned) EndOrphanedGroup();
}

void ServerProcess::EndOrphanedGroup() {
  // Whoever started us is gone, so nobody will end what is left of our
  // process group (a sidecar, a worker): the death chain goes on through us.
  // Ignored here, so the signal ends the others and not this process.
  signal(SIGTERM, SIG_IGN);
  Log(options_.name, "the process that started this server is gone: ending process group %d", getpgrp());
  kill(0, SIGTERM);
  // A member started by this process inherited its blocked SIGTERM: SIGKILL
  // for whoever is still in the group (not this process, which kill(0, ...)
  // would include). Pass after pass, since a member not yet killed may start
  // another while a pass runs, until one finds nobody left.
  for (int pass = 0; pass < kMaxGroupKillPasses && KillRestOfGroup() > 0; ++pass) {
  }
}

int ServerProcess::KillRestOfGroup() {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  int killed = 0;
  while (struct dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid == getpid() || getpgid(pid) != getpgrp()) continue;
    // A zombie (a member that died before us, not reaped) is nobody to kill.
    if (std::optional<ProcStat> stat = ReadProcStat(pid); stat && stat->state == 'Z') continue;
    if (kill(pid, SIGKILL) == 0) ++killed;
  }
  closedir(proc);
  return killed;
}

void ServerProcess::ShutdownControl(bool linger) {
  if (control_server_ == nullptr) return;
  if (auto* health = control_server_->GetHealthCheckService()) health->Shutdown();
  BoundedShutdown(control_server_.get(), *control_calls_, absl::Now() + kControlShutdownGrace, linger);
  if (options_.exit_when_finished) {
    control_server_.release();  // Shut down; the process's _exit() ends its threads.
  } else {
    control_server_.reset();
  }
  std::string path = UnixSocketPath(options_.control_address);
  if (path.empty()) return;
  unlink(path.c_str());
  // The parent made a private directory for this socket alone and removes it
  // too; removing it here as well means nothing is left behind even when the
  // parent was killed. rmdir(2) only removes an empty directory.
  std::string dir = path.substr(0, path.rfind('/'));
  if (absl::StartsWith(dir.substr(dir.rfind('/') + 1), kPrivateDirPrefix)) rmdir(dir.c_str());
}

}  // namespace fixture::server
