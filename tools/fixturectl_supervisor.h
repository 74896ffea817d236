// The supervisor socket of `fixturectl run` (proto/supervisor.proto): CMD
// restarts, kills, pauses and resumes the servers by name, through
// FIXTURE_SUPERVISOR, as a C++ test does with fixture::Fixture.
//
// The servers (fixture::Fixture, not thread-safe) stay the run's main
// thread's: a call arrives on a gRPC thread, is queued, and waits while the
// main thread, woken by fd(), carries it out in Serve() between the other
// events it waits for. Once CMD has ended, Shutdown() fails the queued calls
// and later ones with UNAVAILABLE, so none waits for a main thread that no
// longer serves them.
//
//   absl::StatusOr<std::unique_ptr<Supervisor>> supervisor = Supervisor::Start();
//   env.set.emplace_back("FIXTURE_SUPERVISOR", (*supervisor)->address());
//   ... poll((*supervisor)->fd()) readable: (*supervisor)->Serve(fixtures);
//   if ((*supervisor)->CausedExit("kv", exit)) { /* CMD killed it: no crash */ }
//   (*supervisor)->Shutdown();
#ifndef FIXTURE_TOOLS_FIXTURECTL_SUPERVISOR_H_
#define FIXTURE_TOOLS_FIXTURECTL_SUPERVISOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fixture/fixture.h"

namespace fixturectl {

// The variable that holds the supervisor's address in CMD's environment.
inline constexpr char kSupervisorEnv[] = "FIXTURE_SUPERVISOR";

class Supervisor {
 public:
  // Serves the Supervisor service on "supervisor.sock" in a private
  // directory of its own. The errno text of the directory's creation, or
  // Unavailable when the gRPC server cannot start.
  static absl::StatusOr<std::unique_ptr<Supervisor>> Start();
  // Shutdown(), then the directory goes.
  ~Supervisor();

  // "unix:/tmp/fixture-Ab12Cd/supervisor.sock".
  const std::string& address() const;

  // Polls readable while a call waits for Serve().
  int fd() const;

  // Carries out every call waiting, on `fixtures` (the run's servers, by
  // name): on the thread that owns them, never while they are stopped.
  void Serve(std::vector<fixture::Fixture>& fixtures);

  // Whether `exit` of server `name` is what a Kill from CMD caused (since
  // its last Restart): killed by the signal sent, exited 0 after it (a
  // server that stops on SIGTERM), or an exit whose status is not known (a
  // daemon). Such an exit is no crash of the run. A server that survived the
  // signal and crashed later by another is not covered.
  bool CausedExit(absl::string_view name, const fixture::ExitInfo& exit) const;

  // Fails the waiting calls and any later one with UNAVAILABLE, then stops
  // the gRPC server (idempotent).
  void Shutdown();

  class Impl;

 private:
  explicit Supervisor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_SUPERVISOR_H_
