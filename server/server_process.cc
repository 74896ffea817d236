#include "server/server_process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "launch/clock_calibration.h"
#include "launch/protocol.h"
#include "launch/socket_path.h"
#include "server/bounded_shutdown.h"
#include "server/log.h"
#include "server/parent_watch.h"
#include "server/setup_access.h"
#include "server/signal_thread.h"
#include "server/stuck_watchdog.h"

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

// The state letter of process `pid` in /proc/<pid>/stat ('R', 'S', 'Z', ...);
// '?' if it cannot be read.
char ProcessState(int pid) {
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  absl::string_view stat(buf, static_cast<size_t>(n));
  size_t paren = stat.rfind(')');  // The name may hold spaces and parentheses.
  return paren != absl::string_view::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}

// "127.0.0.1:0" with port 41234 bound -> "127.0.0.1:41234".
std::string BoundAddress(const std::string& address, int port) {
  absl::string_view host = address;
  if (UnixSocketPath(address).empty() && port > 0 && absl::ConsumeSuffix(&host, ":0")) {
    return absl::StrCat(host, ":", port);
  }
  return address;
}

void ApplySyncServerOptions(grpc::ServerBuilder& builder) {
  // One completion queue and few pollers: a fixture server serves one test,
  // and every extra thread costs start-up time.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
}

// The overall ("") health status of `server`, if it has a health service.
void SetHealth(grpc::Server* server, bool serving) {
  if (server != nullptr && server->GetHealthCheckService() != nullptr) {
    server->GetHealthCheckService()->SetServingStatus("", serving);
  }
}

}  // namespace

ServerProcess::ServerProcess(const RunOptions& options)
    : options_(options),
      counter_(std::make_shared<CallCounter>()),
      control_calls_(std::make_shared<CallCounter>(/*per_method=*/false)),
      control_(&lifecycle_, counter_, options.name) {}

int ServerProcess::Run(const SetupFunction& setup) {
  signal(SIGPIPE, SIG_IGN);  // A parent that went away must not kill us mid-write.
  const pid_t parent = getppid();
  // Nothing this process starts may hold the readiness pipe: its EOF must
  // mean that this process is gone.
  if (options_.ready_fd >= 0) fcntl(options_.ready_fd, F_SETFD, FD_CLOEXEC);
  std::unique_ptr<SignalThread> signals;
  if (options_.handle_signals) signals = std::make_unique<SignalThread>(&lifecycle_, options_);
  // Started by a fixture: stop when whoever started this process has exited
  // (the fixture, or a wrapper that did not exec: a shell script), watched
  // through its pidfd (server/parent_watch.h says why not by the death signal
  // a forked child starts with, which the watch replaces). Only where the
  // watch cannot be set up, SIGTERM when the thread that started us dies.
  std::unique_ptr<ParentWatch> parent_watch;
  if (!options_.control_address.empty()) {
    absl::StatusOr<std::unique_ptr<ParentWatch>> watch = ParentWatch::Start(parent, &lifecycle_, options_);
    if (watch.ok()) {
      parent_watch = *std::move(watch);
      prctl(PR_SET_PDEATHSIG, 0);
    } else {
      Log(options_.name, "cannot watch the process that started this server (%s): stopping on SIGTERM when it dies",
          watch.status().ToString());
      prctl(PR_SET_PDEATHSIG, SIGTERM);
    }
  }
  StuckWatchdog watchdog(&lifecycle_, options_);
  // Off the critical path while the servers start (a fork-server child has
  // the value already: the helper calibrated before forking it).
  std::thread calibration;
  if (!AbseilClockCalibrated()) calibration = std::thread(CalibrateAbseilClock);
  int status = Serve(setup);
  if (calibration.joinable()) calibration.join();
  lifecycle_.RequestStop(absl::ZeroDuration());  // Wakes the watchdog if we fail early.
  // Control calls open now are streams (Watch) that end with STOPPING: their
  // clients must get to read the end before the connections are dropped.
  bool streams_ending = !control_calls_->AwaitIdle(absl::Now());
  lifecycle_.Advance(v1::STOPPING);
  ShutdownControl(/*linger=*/streams_ending);
  const bool orphaned = !options_.control_address.empty() &&
                        (getppid() != parent || (parent_watch != nullptr && parent_watch->parent_gone()));
  parent_watch.reset();
  if (orphaned) EndOrphanedGroup();
  return status;
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
    if (ProcessState(pid) == 'Z') continue;
    if (kill(pid, SIGKILL) == 0) ++killed;
  }
  closedir(proc);
  return killed;
}

int ServerProcess::Serve(const SetupFunction& setup) {
  if (!options_.control_address.empty() && !StartControl()) return kExitBadLaunch;

  ServerSetup declared(options_.name);
  if (absl::Status ok = setup(declared); !ok.ok()) {
    Log(options_.name, "setup failed: %s", ok.ToString());
    return kExitSetupFailed;
  }
  if (SetupAccess::stall_control(declared)) control_.Stall();
  control_.SetLabels(SetupAccess::labels(declared));

  std::optional<std::vector<v1::Endpoint>> bound = BuildEndpoints(declared);
  if (!bound.has_value()) return kExitSetupFailed;
  control_.SetEndpoints(*bound);

  if (lifecycle_.Advance(v1::SERVING)) {
    SetHealth(control_server_.get(), true);
    AnnounceReady(*bound);
  }
  DrainEndpoints();
  return kExitOk;
}

std::optional<std::vector<v1::Endpoint>> ServerProcess::BuildEndpoints(ServerSetup& declared) {
  std::vector<v1::Endpoint> bound;
  for (SetupAccess::Endpoint& endpoint : SetupAccess::endpoints(declared)) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(endpoint.address, grpc::InsecureServerCredentials(), &port);
    // A fixed port must really be ours: no silent sharing through SO_REUSEPORT.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    for (grpc::Service* service : endpoint.services) builder.RegisterService(service);
    builder.experimental().SetInterceptorCreators(counter_->Factories());
    ApplySyncServerOptions(builder);
    for (auto& configure : endpoint.configure) configure(builder);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr) {
      Log(options_.name, "endpoint \"%s\" cannot listen on %s (address in use, bad address or no permission)",
          endpoint.name, endpoint.address);
      return std::nullopt;
    }
    v1::Endpoint& entry = bound.emplace_back();
    entry.set_name(endpoint.name);
    entry.set_address(BoundAddress(endpoint.address, port));
    entry.set_port(UnixSocketPath(endpoint.address).empty() ? port : 0);
    servers_.push_back(std::move(server));
  }
  return bound;
}

void ServerProcess::DrainEndpoints() {
  absl::Time deadline = lifecycle_.AwaitStopRequest();
  SetHealth(control_server_.get(), false);
  for (auto& server : servers_) SetHealth(server.get(), false);
  // All endpoints at once: each refuses new calls from now on, and each
  // call in flight on any of them gets the same grace.
  std::vector<std::thread> stopping;
  for (auto& server : servers_) {
    stopping.emplace_back([this, &server, deadline] {
      BoundedShutdown(server.get(), *counter_, deadline, /*linger=*/false, &lifecycle_);
    });
  }
  for (std::thread& t : stopping) t.join();
  servers_.clear();
}

bool ServerProcess::StartControl() {
  // Generic clients in any language can then find FixtureControl (server
  // reflection) and follow readiness (grpc.health.v1.Health). Both are
  // process-wide switches: the endpoints of the service under test get them too.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.control_address, grpc::InsecureServerCredentials());
  builder.RegisterService(&control_);
  builder.experimental().SetInterceptorCreators(control_calls_->Factories());
  builder.SetMaxReceiveMessageSize(kControlMaxMessageBytes);
  ApplySyncServerOptions(builder);
  control_server_ = builder.BuildAndStart();
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

void ServerProcess::AnnounceReady(const std::vector<v1::Endpoint>& bound) {
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
  // Kept open (close-on-exec, see Run) until exit, so that its EOF tells the
  // parent we are gone.
}

void ServerProcess::ShutdownControl(bool linger) {
  if (control_server_ == nullptr) return;
  if (auto* health = control_server_->GetHealthCheckService()) health->Shutdown();
  BoundedShutdown(control_server_.get(), *control_calls_, absl::Now() + kControlShutdownGrace, linger);
  control_server_.reset();
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
