// AddInterceptorCreatorsFirst: puts interceptor creators on a ServerBuilder
// ahead of the ones it has, which gRPC 1.51 offers no way to do. Internal to
// server/.
//
// ServerBuilder::experimental().SetInterceptorCreators() replaces the
// builder's list and there is no getter, so a library that installs its own
// interceptor that way drops the server's. This reads the list itself, by
// the one standard-conforming way to name a private member: access checking
// does not apply to the template arguments of an explicit instantiation
// (C++20 [temp.spec.general]/6). It names the member, so a gRPC that renames
// it fails to compile rather than misbehave.
//
//   AddInterceptorCreatorsFirst(builder, counter->Factories());
//   builder.BuildAndStart();  // the counter runs first, then the server's own
#ifndef FIXTURE_SERVER_BUILDER_INTERCEPTORS_H_
#define FIXTURE_SERVER_BUILDER_INTERCEPTORS_H_

#include <memory>
#include <vector>

#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"

namespace fixture::server {

using InterceptorCreators = std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>;

// Puts `creators` ahead of the interceptor creators `builder` has now; those
// stay, in their order. Call it after the server's own
// experimental().SetInterceptorCreators(), which would replace both.
void AddInterceptorCreatorsFirst(grpc::ServerBuilder& builder, InterceptorCreators creators);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_BUILDER_INTERCEPTORS_H_
