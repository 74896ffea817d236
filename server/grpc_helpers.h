// Small settings this library makes on the gRPC servers it builds (the
// control server, the endpoints of Run()) and on the server under test.
// Internal to server/.
//
//   grpc::ServerBuilder builder;
//   ApplySyncServerOptions(builder);
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   SetHealth(server.get(), /*serving=*/true);
#ifndef FIXTURE_SERVER_GRPC_HELPERS_H_
#define FIXTURE_SERVER_GRPC_HELPERS_H_

#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace fixture::server {

// One completion queue and few pollers: a fixture server serves one test,
// and every extra thread costs start-up time.
void ApplySyncServerOptions(grpc::ServerBuilder& builder);

// Sets the overall ("") health status of `server` to SERVING or NOT_SERVING,
// if it has a health service; nothing for a null server or one without.
void SetHealth(grpc::Server* server, bool serving);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_GRPC_HELPERS_H_
