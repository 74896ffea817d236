// ServerProcess: one run of a fixture server, the steps of the launch
// protocol in order (server/server.h describes them). Internal to server/.
//
//   ServerProcess process(options);
//   return process.Run(setup);  // the process's exit status
#ifndef FIXTURE_SERVER_SERVER_PROCESS_H_
#define FIXTURE_SERVER_SERVER_PROCESS_H_

#include <memory>
#include <optional>
#include <vector>

#include "grpcpp/server.h"
#include "proto/control.pb.h"
#include "server/call_counter.h"
#include "server/control_service.h"
#include "server/lifecycle.h"
#include "server/server.h"

namespace fixture::server {

class ServerProcess {
 public:
  explicit ServerProcess(const RunOptions& options);

  // Serves until stopped; one of the kExit constants.
  int Run(const SetupFunction& setup);

 private:
  // Control socket, setup, endpoints, ready, then the stop of the endpoints.
  int Serve(const SetupFunction& setup);
  // Serves FixtureControl, health and reflection on the control socket.
  bool StartControl();
  // One gRPC server per declared endpoint, appended to servers_; the bound
  // endpoints, or nullopt (logged) when one cannot listen.
  std::optional<std::vector<v1::Endpoint>> BuildEndpoints(ServerSetup& declared);
  // Writes the ReadyNotice (or, standalone, prints the endpoints).
  void AnnounceReady(const std::vector<v1::Endpoint>& bound);
  // Waits for a stop request, then stops every endpoint at once within it.
  void DrainEndpoints();
  void ShutdownControl(bool linger);
  // After a stop once our parent is gone: SIGTERM to the rest of our group,
  // then SIGKILL to whoever is left.
  void EndOrphanedGroup();
  // One pass over /proc: SIGKILL to every live member of our process group
  // but us. How many it signalled.
  int KillRestOfGroup();

  const RunOptions options_;
  Lifecycle lifecycle_;
  std::shared_ptr<CallCounter> counter_;
  std::shared_ptr<CallCounter> control_calls_;
  ControlService control_;
  std::unique_ptr<grpc::Server> control_server_;
  std::vector<std::unique_ptr<grpc::Server>> servers_;
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_SERVER_PROCESS_H_
