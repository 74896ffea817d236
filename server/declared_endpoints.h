// DeclaredEndpoints: the servers under test of Run() (server/server.h), one
// gRPC server per endpoint the setup function declared, built with the
// process's call counter and fault injector, and stopped together. Internal to server/.
//
//   DeclaredEndpoints endpoints;
//   std::optional<std::vector<v1::Endpoint>> bound =
//       endpoints.Build(declared, process.counter(), process.faults(), name);
//   if (!bound.has_value()) return kExitSetupFailed;
//   process.Ready(*bound);
//   process.AwaitStopRequest();
//   endpoints.NotServing();
//   endpoints.Drain(process.AwaitDrainEnd(), *process.counter(), process.lifecycle());
#ifndef FIXTURE_SERVER_DECLARED_ENDPOINTS_H_
#define FIXTURE_SERVER_DECLARED_ENDPOINTS_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "fixture/proto/control.pb.h"
#include "fixture/server/call_counter.h"
#include "fixture/server/fault_injector.h"
#include "fixture/server/lifecycle.h"
#include "fixture/server/setup.h"
#include "grpcpp/server.h"

namespace fixture::server {

class DeclaredEndpoints {
 public:
  // Builds and starts one server per endpoint of `declared` (binding TCP
  // port 0 unless told otherwise; an endpoint declared on port 0 that
  // `ports` names binds that port instead, as after a restart; a fixed port
  // is not shared through SO_REUSEPORT), each counting into `counter`, its services' methods
  // faulted by `faults` (server/fault_handlers.h). The bound endpoints with
  // their real ports, or nullopt (logged under `name`) when one cannot
  // listen; the servers started before it are kept, for Drain().
  std::optional<std::vector<v1::Endpoint>> Build(ServerSetup& declared, const std::shared_ptr<CallCounter>& counter,
                                                 const std::shared_ptr<FaultInjector>& faults, const std::string& name,
                                                 const std::map<std::string, int>& ports = {});

  // Sets every server's health (the overall service "") NOT_SERVING; they
  // go on taking calls (the stop's drain).
  void NotServing();

  // Stops every server at once, each within `deadline` (BoundedShutdown; a
  // later stop request in `lifecycle` may bring it forward); health
  // NOT_SERVING first. The servers are gone afterwards.
  void Drain(absl::Time deadline, const CallCounter& counter, const Lifecycle& lifecycle);

 private:
  std::vector<std::unique_ptr<grpc::Server>> servers_;
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_DECLARED_ENDPOINTS_H_
