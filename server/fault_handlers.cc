#include "server/fault_handlers.h"

#include <optional>
#include <utility>
#include <vector>

#include "google/protobuf/message_lite.h"
#include "grpcpp/impl/rpc_service_method.h"
#include "grpcpp/server_context.h"

namespace fixture::server {
namespace {

using grpc::internal::MethodHandler;
using grpc::internal::RpcServiceMethod;
using Methods = std::vector<std::unique_ptr<RpcServiceMethod>>;

// grpc::Service::methods_ and grpc::internal::RpcServiceMethod::handler_,
// named the way server/builder_interceptors.h explains: access checking does
// not apply to the template arguments of an explicit instantiation. A gRPC
// that renames them fails to compile rather than misbehave.
Methods& MethodsOf(grpc::Service& service);
std::unique_ptr<MethodHandler>& HandlerOf(RpcServiceMethod& method);

template <Methods grpc::Service::*Member>
struct MethodsAccess {
  friend Methods& MethodsOf(grpc::Service& service) { return service.*Member; }
};
template struct MethodsAccess<&grpc::Service::methods_>;

template <std::unique_ptr<MethodHandler> RpcServiceMethod::*Member>
struct HandlerAccess {
  friend std::unique_ptr<MethodHandler>& HandlerOf(RpcServiceMethod& method) { return method.*Member; }
};
template struct HandlerAccess<&RpcServiceMethod::handler_>;

// The builder's services (its protected ServerBuilder::services()).
struct BuilderServices : grpc::ServerBuilder {
  static std::vector<grpc::Service*> Of(grpc::ServerBuilder& builder) {
    std::vector<grpc::Service*> services;
    for (NamedService* named : (builder.*(&BuilderServices::services))()) services.push_back(named->service);
    return services;
  }
};

absl::Time ContextDeadline(const grpc::ServerContextBase& context) {
  std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

class FaultingHandler final : public MethodHandler {
 public:
  FaultingHandler(std::string method, std::unique_ptr<MethodHandler> inner, std::shared_ptr<FaultInjector> faults)
      : method_(std::move(method)), inner_(std::move(inner)), faults_(std::move(faults)) {}

  void* Deserialize(grpc_call* call, grpc_byte_buffer* req, grpc::Status* status, void** handler_data) override {
    return inner_->Deserialize(call, req, status, handler_data);
  }

  void RunHandler(const HandlerParameter& param) override {
    std::optional<FaultInjector::Action> action;
    if (param.status.ok()) action = faults_->Decide(method_, param.server_context->client_metadata());
    if (!action.has_value()) return inner_->RunHandler(param);
    if (action->delay > absl::ZeroDuration()) {
      const absl::Time deadline = ContextDeadline(*param.server_context);
      faults_->Delay(action->delay, deadline);
      // A call whose deadline passed while it was held is not handled: its
      // caller gives up on it, and must not see an answer race that.
      if (absl::Now() >= deadline) {
        action->status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                      "the call's deadline passed while an injected fault delayed it");
      }
    }
    if (action->status.ok()) return inner_->RunHandler(param);
    // The client sees its connection end, not the status sent after.
    if (action->close_connections) (void)faults_->CloseConnections();
    // The failure, answered by the service's own handler as for a request
    // that did not deserialize: it skips the service's code and sends the
    // status. Such a request is the handler's to release no more, so it is
    // released here (a generated service's request is a protobuf message).
    if (param.request != nullptr) static_cast<google::protobuf::MessageLite*>(param.request)->~MessageLite();
    inner_->RunHandler(HandlerParameter(param.call, param.server_context, nullptr, action->status, param.internal_data,
                                        param.call_requester));
  }

 private:
  const std::string method_;
  const std::unique_ptr<MethodHandler> inner_;
  const std::shared_ptr<FaultInjector> faults_;
};

bool Faultable(const RpcServiceMethod& method) {
  if (method.api_type() != RpcServiceMethod::ApiType::SYNC || method.handler() == nullptr) return false;
  return method.method_type() == grpc::internal::RpcMethod::NORMAL_RPC ||
         method.method_type() == grpc::internal::RpcMethod::SERVER_STREAMING;
}

}  // namespace

void FaultMethodHandlers(grpc::Service* service, const std::shared_ptr<FaultInjector>& faults) {
  for (std::unique_ptr<RpcServiceMethod>& method : MethodsOf(*service)) {
    if (method == nullptr || !Faultable(*method)) continue;
    std::unique_ptr<MethodHandler>& handler = HandlerOf(*method);
    if (dynamic_cast<FaultingHandler*>(handler.get()) != nullptr) continue;  // Already wrapped.
    handler = std::make_unique<FaultingHandler>(method->name(), std::move(handler), faults);
    faults->AddFaultableMethod(method->name());
  }
}

void FaultBuilderServices(grpc::ServerBuilder& builder, const std::shared_ptr<FaultInjector>& faults) {
  for (grpc::Service* service : BuilderServices::Of(builder)) FaultMethodHandlers(service, faults);
}

}  // namespace fixture::server
