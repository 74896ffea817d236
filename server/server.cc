#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "fixture/launch_protocol.h"
#include "fixture/private_dir.h"
#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "server/call_counter.h"
#include "server/clock_calibration.h"
#include "server/control_service.h"
#include "server/lifecycle.h"

namespace fixture::server {
namespace {

// The control socket is private to the parent: only small requests expected.
constexpr int kControlMaxMessageBytes = 64 * 1024;
// Time the control server gets to finish after the service under test stopped:
// only control calls are left, and they all end when STOPPING is reached.
constexpr absl::Duration kControlShutdownGrace = absl::Milliseconds(100);
// How often a stop waiting for in-flight calls looks whether a later stop
// request brought its deadline forward.
constexpr absl::Duration kStopDeadlineRecheck = absl::Milliseconds(20);

bool ValidEndpointName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// The socket path of a "unix:" target, or "" for other targets.
std::string UnixSocketPath(absl::string_view target) {
  if (absl::ConsumePrefix(&target, "unix://")) return std::string(target);
  if (absl::ConsumePrefix(&target, "unix:")) return std::string(target);
  return "";
}

// A line on stderr, prefixed with the server's name and pid.
template <typename... Args>
void Log(const std::string& name, const absl::FormatSpec<Args...>& format, const Args&... args) {
  std::string line = absl::StrFormat("fixture server %s[%d]: ", name.empty() ? "" : "\"" + name + "\" ", getpid());
  absl::StrAppendFormat(&line, format, args...);
  line += "\n";
  fputs(line.c_str(), stderr);
  fflush(stderr);
}

// Takes SIGINT and SIGTERM with sigwait(3) on its own thread and turns them
// into stop requests. Blocking the signals in the constructor's thread (before
// gRPC starts its threads, which inherit the mask) keeps them away from every
// other thread, so no code runs in a signal handler.
class SignalThread {
 public:
  SignalThread(Lifecycle* lifecycle, const RunOptions& options) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGTERM);
    struct sigaction current;
    if (sigaction(SIGINT, nullptr, &current) == 0 && current.sa_handler != SIG_IGN) {
      sigaddset(&signals_, SIGINT);
    }
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this, lifecycle, options] {
      for (;;) {
        int signal = 0;
        if (sigwait(&signals_, &signal) != 0) continue;
        if (done_.load()) return;
        bool first = lifecycle->RequestStop(options.signal_grace);
        Log(options.name, "SIG%s received: %s (grace %s)", sigabbrev_np(signal) ? sigabbrev_np(signal) : "?",
            first ? "stopping" : "already stopping", absl::FormatDuration(options.signal_grace));
      }
    });
  }

  // The signals stay blocked: the process is on its way out, and a late
  // SIGINT or SIGTERM must not turn a clean exit into death by signal.
  ~SignalThread() {
    done_.store(true);
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

 private:
  sigset_t signals_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Forces the process out with kExitStuck if it is still running
// `stuck_timeout` after the stop deadline: the last line of defence against
// setup code or a handler that never returns.
class StuckWatchdog {
 public:
  StuckWatchdog(Lifecycle* lifecycle, const RunOptions& options) {
    thread_ = std::thread([this, lifecycle, options] {
      absl::Time stop_deadline = lifecycle->AwaitStopRequest();
      if (done_.WaitForNotificationWithDeadline(stop_deadline + options.stuck_timeout)) return;
      Log(options.name, "still running %s after the stop deadline (state %s): exiting with status %d",
          absl::FormatDuration(options.stuck_timeout), v1::State_Name(lifecycle->state()), kExitStuck);
      _exit(kExitStuck);
    });
  }
  // Call only once a stop was requested (or the thread never wakes).
  ~StuckWatchdog() {
    done_.Notify();
    thread_.join();
  }

 private:
  absl::Notification done_;
  std::thread thread_;
};

std::string BoundAddress(const std::string& address, int port) {
  absl::string_view host = address;
  if (UnixSocketPath(address).empty() && port > 0 && absl::ConsumeSuffix(&host, ":0")) {
    return absl::StrCat(host, ":", port);
  }
  return address;
}

// Stops `server` within `deadline` however its clients behave. Server::Shutdown
// sends GOAWAY at once (new calls are refused) but then waits for every
// connection to close, which a client holding its channel open only does
// after ~5 s, or until the deadline. So the shutdown runs on a thread while
// this one waits for the calls in flight; once they are done (or the deadline
// passed) the remaining calls are cancelled and the connections dropped,
// which lets Shutdown return at once.
//
// With `linger`, once the calls are done the connections get until the
// deadline to close gracefully (a client with a call open answers the GOAWAY's
// ping, having read all that came before it) before they are dropped. Dropping
// a connection right after a stream's last frames makes a client that is still
// reading and writing (flow-control updates) fail with UNAVAILABLE "Broken pipe"
// and lose the last message and the OK status.
//
// With `stop_requests`, a later stop request that brings the stop deadline
// forward (the earliest one stands, proto/control.proto) ends the wait for the
// calls in flight at the new deadline: it is looked at again every
// kStopDeadlineRecheck.
void BoundedShutdown(grpc::Server* server, const CallCounter& calls, absl::Time deadline, bool linger = false,
                     const Lifecycle* stop_requests = nullptr) {
  absl::Notification done;
  std::thread shutdown([&] {
    server->Shutdown(absl::ToChronoTime(deadline));
    done.Notify();
  });
  absl::Time until = deadline;
  for (;;) {
    if (stop_requests != nullptr) until = std::min(until, stop_requests->AwaitStopRequest());
    absl::Time wake = stop_requests != nullptr ? std::min(until, absl::Now() + kStopDeadlineRecheck) : until;
    if (calls.AwaitIdle(wake) || absl::Now() >= until) break;
  }
  if (linger) done.WaitForNotificationWithDeadline(until);
  // Repeat in case the first cancel ran before Shutdown had sent its GOAWAY
  // and a client connected again in between; bounded by the deadline.
  do {
    grpc_server_cancel_all_calls(server->c_server());
  } while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(20)) && absl::Now() < until);
  shutdown.join();
  server->Wait();
}

void ApplySyncServerOptions(grpc::ServerBuilder& builder) {
  // One completion queue and few pollers: a fixture server serves one test,
  // and every extra thread costs start-up time.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
}

}  // namespace

// --- ServerSetup ---------------------------------------------------------------

ServerSetup::Endpoint* ServerSetup::Find(absl::string_view name) {
  for (Endpoint& endpoint : endpoints_) {
    if (endpoint.name == name) return &endpoint;
  }
  return nullptr;
}

absl::Status ServerSetup::AddEndpoint(absl::string_view name, absl::string_view address) {
  if (!ValidEndpointName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint name \"", name, "\": use letters, digits and _"));
  }
  if (Find(name) != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint name \"", name, "\": already declared"));
  }
  if (address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint \"", name, "\": address is empty"));
  }
  endpoints_.push_back(Endpoint{std::string(name), std::string(address), {}, {}});
  return absl::OkStatus();
}

absl::Status ServerSetup::AddService(grpc::Service* service, absl::string_view endpoint) {
  if (service == nullptr) return absl::InvalidArgumentError("AddService: service is null");
  if (Find(endpoint) == nullptr) {
    absl::Status added = AddEndpoint(endpoint);
    if (!added.ok()) return added;
  }
  Find(endpoint)->services.push_back(service);
  return absl::OkStatus();
}

absl::Status ServerSetup::ConfigureEndpoint(absl::string_view endpoint,
                                            std::function<void(grpc::ServerBuilder&)> configure) {
  Endpoint* found = Find(endpoint);
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("endpoint \"", endpoint, "\" is not declared"));
  found->configure.push_back(std::move(configure));
  return absl::OkStatus();
}

void ServerSetup::SetLabel(absl::string_view key, absl::string_view value) {
  labels_[std::string(key)] = std::string(value);
}

// --- Run -------------------------------------------------------------------------

// One run of a fixture server: the steps of the launch protocol in order.
class ServerProcess {
 public:
  explicit ServerProcess(const RunOptions& options)
      : options_(options),
        counter_(std::make_shared<CallCounter>()),
        control_calls_(std::make_shared<CallCounter>(/*per_method=*/false)),
        control_(&lifecycle_, counter_, options.name) {}

  int Run(const SetupFunction& setup) {
    signal(SIGPIPE, SIG_IGN);  // A parent that went away must not kill us mid-write.
    // Nothing this process starts may hold the readiness pipe: its EOF must
    // mean that this process is gone.
    if (options_.ready_fd >= 0) fcntl(options_.ready_fd, F_SETFD, FD_CLOEXEC);
    std::unique_ptr<SignalThread> signals;
    if (options_.handle_signals) signals = std::make_unique<SignalThread>(&lifecycle_, options_);
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
    return status;
  }

 private:
  int Serve(const SetupFunction& setup) {
    if (!options_.control_address.empty() && !StartControl()) return kExitBadLaunch;

    ServerSetup declared(options_.name);
    absl::Status ok = setup(declared);
    if (!ok.ok()) {
      Log(options_.name, "setup failed: %s", ok.ToString());
      return kExitSetupFailed;
    }
    if (declared.stall_control_) control_.Stall();
    control_.SetLabels(declared.labels_);

    std::vector<v1::Endpoint> bound;
    for (ServerSetup::Endpoint& endpoint : declared.endpoints_) {
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
        return kExitSetupFailed;
      }
      v1::Endpoint& entry = bound.emplace_back();
      entry.set_name(endpoint.name);
      entry.set_address(BoundAddress(endpoint.address, port));
      entry.set_port(UnixSocketPath(endpoint.address).empty() ? port : 0);
      servers_.push_back(std::move(server));
    }
    control_.SetEndpoints(bound);

    if (lifecycle_.Advance(v1::SERVING)) {
      SetHealth(control_server_.get(), true);
      AnnounceReady(bound);
    }

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
    return kExitOk;
  }

  bool StartControl() {
    control_path_ = UnixSocketPath(options_.control_address);
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
      Log(options_.name, "cannot serve control on %s (the directory must exist and the path fit in 107 bytes)",
          options_.control_address);
      return false;
    }
    // The directory is 0700 already; the socket itself is the owner's alone too.
    if (!control_path_.empty() && chmod(control_path_.c_str(), 0600) != 0) {
      Log(options_.name, "chmod(%s, 0600): %s", control_path_, strerror(errno));
    }
    return true;
  }

  void AnnounceReady(const std::vector<v1::Endpoint>& bound) {
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

  // The overall ("") health status of `server`, if it has a health service.
  static void SetHealth(grpc::Server* server, bool serving) {
    if (server != nullptr && server->GetHealthCheckService() != nullptr) {
      server->GetHealthCheckService()->SetServingStatus("", serving);
    }
  }

  void ShutdownControl(bool linger) {
    if (control_server_ == nullptr) return;
    if (auto* health = control_server_->GetHealthCheckService()) health->Shutdown();
    BoundedShutdown(control_server_.get(), *control_calls_, absl::Now() + kControlShutdownGrace, linger);
    control_server_.reset();
    if (control_path_.empty()) return;
    unlink(control_path_.c_str());
    // The parent made a private directory for this socket alone and removes it
    // too; removing it here as well means nothing is left behind even when the
    // parent was killed. rmdir(2) only removes an empty directory.
    std::string dir = control_path_.substr(0, control_path_.rfind('/'));
    if (absl::StartsWith(dir.substr(dir.rfind('/') + 1), kPrivateDirPrefix)) rmdir(dir.c_str());
  }

  const RunOptions options_;
  Lifecycle lifecycle_;
  std::shared_ptr<CallCounter> counter_;
  std::shared_ptr<CallCounter> control_calls_;
  ControlService control_;
  std::string control_path_;
  std::unique_ptr<grpc::Server> control_server_;
  std::vector<std::unique_ptr<grpc::Server>> servers_;
};

absl::StatusOr<RunOptions> RunOptionsFromEnvironment() {
  RunOptions options;
  if (const char* address = getenv(launch::kControlAddressEnv)) {
    options.control_address = address;
    if (!absl::StartsWith(options.control_address, "unix:")) {
      return absl::InvalidArgumentError(absl::StrCat(launch::kControlAddressEnv, "=", options.control_address,
                                                     ": the control socket must be a \"unix:\" address"));
    }
  }
  if (const char* fd = getenv(launch::kReadyFdEnv)) {
    if (!absl::SimpleAtoi(fd, &options.ready_fd) || options.ready_fd < 0 || fcntl(options.ready_fd, F_GETFD) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(launch::kReadyFdEnv, "=", fd, ": not an open descriptor of this process"));
    }
  }
  if (const char* name = getenv(launch::kNameEnv)) options.name = name;
  unsetenv(launch::kControlAddressEnv);
  unsetenv(launch::kReadyFdEnv);
  unsetenv(launch::kNameEnv);
  return options;
}

int Run(const RunOptions& options, const SetupFunction& setup) {
  // Debian builds abseil without NDEBUG, which turns on the Mutex deadlock
  // detector: it tracked every lock gRPC takes and cost ~0.6 ms of each
  // server's start-up. This process is ours; its locks are gRPC's and ours.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  ServerProcess process(options);
  return process.Run(setup);
}

int Main(const SetupFunction& setup) {
  absl::StatusOr<RunOptions> options = RunOptionsFromEnvironment();
  if (!options.ok()) {
    Log("", "bad launch environment: %s", options.status().ToString());
    return kExitBadLaunch;
  }
  return Run(*options, setup);
}

}  // namespace fixture::server
