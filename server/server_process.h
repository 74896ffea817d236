// ServerProcess: the launch protocol's child side for one server process,
// whoever builds the gRPC servers under test. Internal to server/.
//
// It holds what every fixture server process has once: the Lifecycle, the
// per-method CallCounter that goes on each server under test, the control
// socket (FixtureControl, grpc.health.v1.Health, reflection), the
// ReadyNotice, SIGINT/SIGTERM, the stuck watchdog, the parent watch
// (server/parent_watch.h) and the end (STOPPING, control socket removed, an orphaned process group ended).
// Two drivers build the servers under test around it:
//   - Run() (server/server.h): endpoints a setup function declared, served on
//     the calling thread until stopped (Mode::kRun);
//   - AttachAndStart() (server/attach.h): a server's own main() and
//     grpc::ServerBuilder, stopped from a thread of its own (Mode::kAttached).
//
//   ServerProcess process(options, ServerProcess::Mode::kRun);
//   if (!process.StartControl()) return kExitBadLaunch;
//   ... build the servers, with process.counter()->Factories() ...
//   process.Ready(bound);
//   process.AwaitStopRequest();
//   ... the servers' health NOT_SERVING; they still take calls ...
//   absl::Time deadline = process.AwaitDrainEnd();
//   ... stop the servers by `deadline` ...
//   process.Finish();
#ifndef FIXTURE_SERVER_SERVER_PROCESS_H_
#define FIXTURE_SERVER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "fixture/proto/control.pb.h"
#include "fixture/server/call_counter.h"
#include "fixture/server/control_service.h"
#include "fixture/server/fault_injector.h"
#include "fixture/server/lifecycle.h"
#include "fixture/server/server.h"
#include "grpcpp/server.h"
#include "server/parent_watch.h"
#include "server/signal_thread.h"
#include "server/stuck_watchdog.h"

namespace fixture::server {

class ServerProcess {
 public:
  enum class Mode {
    // The library owns the process from the start of main(), before any other
    // thread: SIGINT and SIGTERM are taken by sigwait(3); the health and
    // reflection switches are process-wide (the endpoints get them too).
    kRun,
    // A server's own main(), whose threads already run: SIGINT and SIGTERM
    // get a handler (server/signal_thread.h); health and reflection are
    // served on the control socket only, the server under test is left as
    // its code built it.
    kAttached,
  };

  // Takes the process: SIGPIPE ignored, the readiness pipe close-on-exec, the
  // signals (options.handle_signals), then, when a fixture started it
  // (options.control_address set), a ParentWatch on its starter with the
  // death signal cleared (PR_SET_PDEATHSIG SIGTERM only if the watch cannot
  // be set up), the stuck watchdog and abseil's clock calibration on a thread.
  ServerProcess(const RunOptions& options, Mode mode);
  // Finish() if it was not called, then the watchdog and the signal thread.
  ~ServerProcess();

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const RunOptions& options() const { return options_; }
  Lifecycle& lifecycle() { return lifecycle_; }
  // The counter of the server under test: put counter()->Factories() on
  // every ServerBuilder of the service under test.
  const std::shared_ptr<CallCounter>& counter() const { return counter_; }
  // The faults of the server under test (FixtureControl.InjectFault): wrap
  // the services of every server under test with it (server/fault_handlers.h).
  const std::shared_ptr<FaultInjector>& faults() const { return faults_; }
  ControlService& control() { return control_; }

  // Serves FixtureControl, health and reflection on options.control_address
  // (state STARTING, health NOT_SERVING), the socket made 0600. Without a
  // control address: nothing, true. False (logged) when it cannot listen.
  bool StartControl();

  // The servers under test listen on `bound`: reports them in Status, moves
  // to SERVING (unless a stop came first), sets health SERVING and writes the
  // ReadyNotice (standalone, without a readiness pipe: logs the endpoints).
  void Ready(const std::vector<v1::Endpoint>& bound);

  // Blocks until a stop is requested (control Shutdown, a signal, or
  // lifecycle().RequestStop()); the control socket's health becomes
  // NOT_SERVING. The servers under test go on serving: the stop's drain
  // (ShutdownRequest.drain) may have begun.
  void AwaitStopRequest();

  // Blocks until a stop is requested and its drain is over (at once for a
  // stop without one; sooner if a later stop request ends it); calls delayed
  // by a fault go on at once. Returns the stop deadline: the servers under
  // test must refuse new calls now and stop by then.
  absl::Time AwaitDrainEnd();

  // AwaitStopRequest(), then AwaitDrainEnd(): for servers whose health is
  // not this library's to set.
  absl::Time AwaitStop();

  // After the servers under test stopped: STOPPING, the control server shut
  // down (bounded), its socket and the private directory (if empty) removed,
  // and, if whoever started this process is gone, SIGTERM to the rest of its
  // process group. Idempotent. With options.exit_when_finished, the control
  // server object is left as it is once shut down (joining its threads cost
  // ~0.85 ms of a stop): the caller must _exit(2) next.
  void Finish();

 private:
  void ShutdownControl(bool linger);
  // After a stop once our parent is gone: SIGTERM to the rest of our group,
  // then SIGKILL to whoever is left.
  void EndOrphanedGroup();
  // One pass over /proc: SIGKILL to every live member of our process group
  // but us. How many it signalled.
  int KillRestOfGroup();

  const RunOptions options_;
  const Mode mode_;
  const pid_t parent_;
  Lifecycle lifecycle_;
  std::shared_ptr<CallCounter> counter_;
  std::shared_ptr<CallCounter> control_calls_;
  std::shared_ptr<FaultInjector> faults_;
  ControlService control_;
  std::unique_ptr<grpc::Server> control_server_;
  std::thread calibration_;
  bool finished_ = false;
  // Destroyed first: the watchdog, the parent watch (if Finish() has not
  // ended it), then the signals (reverse declaration order).
  std::unique_ptr<SignalThread> signals_;
  std::unique_ptr<ParentWatch> parent_watch_;  // Only with a control address.
  std::unique_ptr<StuckWatchdog> watchdog_;
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_SERVER_PROCESS_H_
