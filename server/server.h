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
//      to DRAINING, gives in-flight RPCs the grace period, then STOPPING,
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

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/impl/service_type.h"

namespace fixture::server {

// Exit statuses of a fixture server process.
inline constexpr int kExitOk = 0;           // Stopped as asked (control, SIGINT, SIGTERM).
inline constexpr int kExitSetupFailed = 1;  // The setup function failed or an endpoint could not listen.
inline constexpr int kExitBadLaunch = 2;    // The launch environment is wrong (see the message).
inline constexpr int kExitStuck = 3;        // Still running long after a stop request: forced out.

// The default endpoint, and the address a new endpoint listens on.
inline constexpr char kDefaultEndpoint[] = "grpc";
inline constexpr char kDefaultAddress[] = "127.0.0.1:0";

// What the setup function declares. Not thread-safe; used only during setup.
class ServerSetup {
 public:
  explicit ServerSetup(std::string name) : name_(std::move(name)) {}

  // Declares endpoint `name` listening on `address`: "127.0.0.1:0" (any free
  // port, reported back in Status.endpoints), "[::1]:0", "127.0.0.1:PORT" or
  // "unix:/path". InvalidArgument if `name` is not [A-Za-z0-9_]+ (it becomes
  // part of environment variable names) or is already declared, or `address`
  // is empty.
  absl::Status AddEndpoint(absl::string_view name, absl::string_view address = kDefaultAddress);

  // Serves `service` (not owned; it must outlive Run) on endpoint `endpoint`,
  // declaring it with kDefaultAddress if it is new. InvalidArgument for a null
  // service or a bad endpoint name.
  absl::Status AddService(grpc::Service* service, absl::string_view endpoint = kDefaultEndpoint);

  // Lets the server code tune an endpoint's ServerBuilder (message sizes,
  // channel arguments, ...) before it is built. NotFound for an unknown endpoint.
  absl::Status ConfigureEndpoint(absl::string_view endpoint, std::function<void(grpc::ServerBuilder&)> configure);

  // Sets a label reported in Status.labels.
  void SetLabel(absl::string_view key, absl::string_view value);

  // The name the parent gave this server (FIXTURE_NAME), or "".
  const std::string& name() const { return name_; }

  // For tests of the parent's fallbacks only: the control service stops
  // answering (every call blocks until the server is stopping).
  void StallControlForTesting() { stall_control_ = true; }

 private:
  friend class ServerProcess;
  struct Endpoint {
    std::string name;
    std::string address;
    std::vector<grpc::Service*> services;
    std::vector<std::function<void(grpc::ServerBuilder&)>> configure;
  };
  Endpoint* Find(absl::string_view name);

  std::string name_;
  std::vector<Endpoint> endpoints_;
  std::map<std::string, std::string> labels_;
  bool stall_control_ = false;
};

// The function that declares the server under test. An error fails the start:
// the process prints it and exits with kExitSetupFailed.
using SetupFunction = std::function<absl::Status(ServerSetup&)>;

struct RunOptions {
  // gRPC target of the control socket ("unix:/path"). Empty: no control
  // service (standalone). From FIXTURE_CONTROL_ADDRESS.
  std::string control_address;
  // Write end of the readiness pipe; -1 for none. From FIXTURE_READY_FD.
  int ready_fd = -1;
  // The server's name in Status and in messages. From FIXTURE_NAME.
  std::string name;
  // Grace period for in-flight RPCs when SIGINT or SIGTERM stops the server.
  absl::Duration signal_grace = absl::Milliseconds(200);
  // How long after the stop deadline the process may still run before it is
  // forced out with kExitStuck (a handler or the setup function that never
  // returns).
  absl::Duration stuck_timeout = absl::Seconds(2);
  // Take SIGINT and SIGTERM to mean "stop gracefully". SIGINT is left alone if
  // the process started with it ignored.
  bool handle_signals = true;
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
