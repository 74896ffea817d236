// ControlService: fixture.v1.FixtureControl, served on the control socket.
//
// It answers from the process's Lifecycle, its CallCounter, its FaultInjector
// (InjectFault, ClearFaults, ListFaults, DropConnections) and what the server code declared
// (endpoints, labels, the reset hook that Reset runs). Shutdown only records a stop request; the
// serving thread does the stopping, so a handler never waits on the server it
// runs in.
//
//   ControlService control(&lifecycle, counter, faults, "kv");
//   builder.RegisterService(&control);
//   ...
//   control.SetResetHook(hook);   // ServerSetup::OnReset's, if any
//   control.SetEndpoints(bound);  // before the lifecycle reaches SERVING
#ifndef FIXTURE_SERVER_CONTROL_SERVICE_H_
#define FIXTURE_SERVER_CONTROL_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "fixture/proto/control.grpc.pb.h"
#include "fixture/server/call_counter.h"
#include "fixture/server/fault_injector.h"
#include "fixture/server/lifecycle.h"

namespace fixture::server {

class ControlService final : public v1::FixtureControl::Service {
 public:
  // `lifecycle` must outlive the service.
  ControlService(Lifecycle* lifecycle, std::shared_ptr<CallCounter> counter, std::shared_ptr<FaultInjector> faults,
                 std::string name);

  void SetEndpoints(std::vector<v1::Endpoint> endpoints);
  void SetLabels(std::map<std::string, std::string> labels);
  // The hook Reset runs (ServerSetup::OnReset); empty: Reset fails with
  // FAILED_PRECONDITION.
  void SetResetHook(std::function<absl::Status()> hook);

  // For tests of the parent's fallbacks: from now on every handler blocks until
  // the server is STOPPING and then fails with UNAVAILABLE, as a hung server would.
  void Stall();

  // The reply GetStatus would give now.
  v1::Status CurrentStatus() const;

  grpc::Status WaitReady(grpc::ServerContext* context, const v1::WaitReadyRequest* request,
                         v1::WaitReadyResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::Status* response) override;
  grpc::Status Shutdown(grpc::ServerContext* context, const v1::ShutdownRequest* request,
                        v1::ShutdownResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                     grpc::ServerWriter<v1::StateChange>* writer) override;
  grpc::Status InjectFault(grpc::ServerContext* context, const v1::InjectFaultRequest* request,
                           v1::InjectFaultResponse* response) override;
  grpc::Status DropConnections(grpc::ServerContext* context, const v1::DropConnectionsRequest* request,
                               v1::DropConnectionsResponse* response) override;
  grpc::Status ClearFaults(grpc::ServerContext* context, const v1::ClearFaultsRequest* request,
                           v1::ClearFaultsResponse* response) override;
  grpc::Status ListFaults(grpc::ServerContext* context, const v1::ListFaultsRequest* request,
                          v1::ListFaultsResponse* response) override;
  // The reset hook, then the call counts and the faults cleared; see
  // proto/control.proto for the errors.
  grpc::Status Reset(grpc::ServerContext* context, const v1::ResetRequest* request,
                     v1::ResetResponse* response) override;

 private:
  // Whether the service is stalled (see Stall()): if so, blocks until the
  // server is stopping and returns true (the call then fails with kStalled).
  bool StalledUntilStopping() const;

  Lifecycle* const lifecycle_;
  const std::shared_ptr<CallCounter> counter_;
  const std::shared_ptr<FaultInjector> faults_;
  const std::string name_;
  mutable absl::Mutex mu_;
  std::vector<v1::Endpoint> endpoints_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> labels_ ABSL_GUARDED_BY(mu_);
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  std::function<absl::Status()> reset_hook_ ABSL_GUARDED_BY(mu_);
  // Held for a whole Reset: one at a time, the hook never run concurrently.
  absl::Mutex reset_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_CONTROL_SERVICE_H_
