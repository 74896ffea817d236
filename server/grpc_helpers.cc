#include "server/grpc_helpers.h"

#include "grpcpp/health_check_service_interface.h"

namespace fixture::server {

void ApplySyncServerOptions(grpc::ServerBuilder& builder) {
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
}

void SetHealth(grpc::Server* server, bool serving) {
  if (server != nullptr && server->GetHealthCheckService() != nullptr) {
    server->GetHealthCheckService()->SetServingStatus("", serving);
  }
}

}  // namespace fixture::server
