// FaultMethodHandlers: puts a FaultInjector in front of the method handlers
// of the services under test. Internal to server/.
//
// gRPC 1.51's server interceptors cannot end a call before its handler runs
// (no hook lets a server interceptor answer instead of the handler), so the
// faults act one step later, still before the service's code: each method
// handler of a registered service is wrapped, and the wrapper asks the
// injector at the start of the call (after the interceptors, the call
// counter among them, have seen it), waits out a delay, and for a failure
// answers the status itself without calling the service. Wrapped: unary and
// server-streaming methods of synchronous services (generated protobuf
// services, whose requests the wrapper can release); async, callback, raw,
// client-streaming and bidi methods are left as they are, so no fault can
// name them. The services of the control socket, health and reflection are
// never registered through here.
//
//   auto faults = std::make_shared<FaultInjector>();
//   FaultBuilderServices(builder, faults);  // every service registered so far
//   builder.BuildAndStart();
#ifndef FIXTURE_SERVER_FAULT_HANDLERS_H_
#define FIXTURE_SERVER_FAULT_HANDLERS_H_

#include <memory>

#include "fixture/server/fault_injector.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/server_builder.h"

namespace fixture::server {

// Wraps the faultable method handlers of `service` (see above) and tells
// `faults` their names. Idempotent: a service registered on several servers
// is wrapped once. Call before the service serves its first call.
void FaultMethodHandlers(grpc::Service* service, const std::shared_ptr<FaultInjector>& faults);

// FaultMethodHandlers() for every service registered on `builder` so far.
void FaultBuilderServices(grpc::ServerBuilder& builder, const std::shared_ptr<FaultInjector>& faults);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_FAULT_HANDLERS_H_
