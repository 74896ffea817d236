// ServerSetup: what a server declares before it serves (its endpoints, the
// services on each, labels, the reset hook that lets one server serve test
// after test), and SetupFunction, the code that declares it.
//
// The setup function runs in the server process (server/server.h runs it),
// once, before anything serves:
//
//   absl::Status Declare(fixture::server::ServerSetup& setup) {
//     setup.SetLabel("version", "1.2");
//     if (absl::Status s = setup.AddEndpoint("admin", "unix:/tmp/admin.sock"); !s.ok()) return s;
//     setup.OnReset([&kv] {  // FixtureControl.Reset, between two tests
//       kv.Clear();
//       return absl::OkStatus();
//     });
//     return setup.AddService(&kv);  // endpoint "grpc" on 127.0.0.1:0
//   }
//
// This header names gRPC's types without including gRPC's server headers, so
// that code which only passes a SetupFunction around (fixture/fixture.h) does
// not pull them in; the setup function's own file includes the service's.
#ifndef FIXTURE_SERVER_SETUP_H_
#define FIXTURE_SERVER_SETUP_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace grpc {
class Service;
class ServerBuilder;
}  // namespace grpc

namespace fixture::server {

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
  // part of environment variable names), is already declared or is reserved
  // ("control" and "pid" in any case: fixturectl gives CMD
  // FIXTURE_<NAME>_CONTROL and _PID), or `address` is empty.
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

  // Registers the server's reset hook, run by FixtureControl.Reset so that
  // one server can serve test after test: it must bring the server's own
  // state (its data, caches, sessions) back to what a fresh start would have,
  // and return OK, or an error saying what it could not reset. It runs on a
  // control thread while the server is SERVING, concurrently with calls to
  // the service under test (which it must tolerate, as any handler would),
  // never concurrently with itself, and Reset answers only once it returned.
  // The library clears the call counts and the faults itself, after the
  // hook succeeded; when it fails they are left as they were. Without a hook,
  // Reset fails with FAILED_PRECONDITION. A second call replaces the hook.
  void OnReset(std::function<absl::Status()> hook) { reset_ = std::move(hook); }

  // The name the parent gave this server (FIXTURE_NAME), or "".
  const std::string& name() const { return name_; }

 private:
  friend struct SetupAccess;  // server/setup_access.h: the library's own view.
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
  std::function<absl::Status()> reset_;
};

// The function that declares the server under test. An error fails the start:
// the process prints it and exits with kExitSetupFailed.
using SetupFunction = std::function<absl::Status(ServerSetup&)>;

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_SETUP_H_
