// The server side of fixture: what runs in the child process.
//
// A server binary (or a registered in-process server function) hands the
// library a setup function that declares its endpoints and services. Run()
// then does the rest of the launch protocol (proto/launch.proto):
//
//   1. serves fixture.v1.FixtureControl on the control socket the parent chose
//      (a 0600 socket in the parent's private 0700 directory), state STARTING;
//   2. calls the setup function; builds one gRPC server per endpoint, binding
//      TCP port 0 unless told otherwise, with a per-method call counter;
//   3. moves to SERVING and writes the ReadyNotice (pid, bound endpoints) to
//      the readiness pipe: the parent learns the moment, no polling;
//   4. on control Shutdown, SIGINT or SIGTERM (the same path: the signals are
//      taken by sigwait(3) on a thread of their own, never in a handler) moves
//      to DRAINING with health NOT_SERVING, keeps taking new RPCs for the
//      Shutdown's drain (none for a signal, which ends a drain under way),
//      then refuses them, gives in-flight RPCs the grace period, then STOPPING,
//      removes the control socket and returns 0. Every gRPC shutdown is
//      bounded by a deadline, so a client holding a channel open cannot stall
//      the stop.
//
// Example, a complete server binary:
//
//   int main() {
//     KeyValueService kv;
//     return fixture::server::Main([&](fixture::server::ServerSetup& setup) {
//       setup.SetLabel("version", "1.2");
//       return setup.AddService(&kv);  // endpoint "grpc" on 127.0.0.1:0
//     });
//   }
//
// Without FIXTURE_CONTROL_ADDRESS in the environment the binary still runs
// standalone: no control socket; it prints its endpoints and stops on SIGINT.
#ifndef FIXTURE_SERVER_SERVER_H_
#define FIXTURE_SERVER_SERVER_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fixture/launch/defaults.h"
#include "fixture/server/setup.h"

namespace fixture::server {

// Exit statuses of a fixture server process.
inline constexpr int kExitOk = 0;           // Stopped as asked (control, SIGINT, SIGTERM).
inline constexpr int kExitSetupFailed = 1;  // The setup function failed or an endpoint could not listen.
inline constexpr int kExitBadLaunch = 2;    // The launch environment is wrong (see the message).
inline constexpr int kExitStuck = 3;        // Still running long after a stop request: forced out.

struct RunOptions {
  // gRPC target of the control socket ("unix:/path"). Empty: no control
  // service (standalone). From FIXTURE_CONTROL_ADDRESS.
  std::string control_address;
  // Write end of the readiness pipe; -1 for none. From FIXTURE_READY_FD.
  int ready_fd = -1;
  // The server's name in Status and in messages. From FIXTURE_NAME.
  std::string name;
  // Ports for endpoints declared on TCP port 0 ("127.0.0.1:0"), by endpoint
  // name: after Fixture::Restart(), the ones the last process bound, so that
  // its clients reconnect to the same address. From FIXTURE_ENDPOINT_PORTS.
  std::map<std::string, int> endpoint_ports;
  // Grace period for in-flight RPCs when SIGINT or SIGTERM stops the server.
  absl::Duration signal_grace = kDefaultGrace;
  // How long after the stop deadline the process may still run before it is
  // forced out with kExitStuck (a handler or the setup function that never
  // returns).
  absl::Duration stuck_timeout = absl::Seconds(2);
  // Take SIGINT and SIGTERM to mean "stop gracefully". SIGINT is left alone if
  // the process started with it ignored.
  bool handle_signals = true;
  // Once the stop is done (the endpoints and the control socket shut down,
  // the socket removed, the Shutdown call answered), flush stdio and
  // _exit(2) with the status at once, instead of returning: the servers'
  // threads are not joined nor their objects destroyed (~0.85 ms of a
  // 3.2 ms stop here). For a process that would only _exit next anyway (a
  // fork-server child: no atexit handler, LeakSanitizer check or coverage
  // dump of its own runs there, with or without this).
  bool exit_when_finished = false;
};

// RunOptions from the launch environment; the variables are removed from the
// environment so that processes the server starts do not inherit them.
// InvalidArgument naming the variable when one is malformed.
absl::StatusOr<RunOptions> RunOptionsFromEnvironment();

// Runs the server until it is stopped; returns the process exit status (one
// of the kExit constants). Call it before anything else in the process has
// started threads, so that the signal mask it sets is inherited by all.
int Run(const RunOptions& options, const SetupFunction& setup);

// RunOptionsFromEnvironment() then Run(): the body of a server's main().
int Main(const SetupFunction& setup);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_SERVER_H_
