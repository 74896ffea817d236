#include "tests/control_calls.h"

#include "absl/time/clock.h"
#include "fixture/grpc_status.h"
#include "fixture/launch/proto_time.h"
#include "grpcpp/client_context.h"

namespace fixture::testing {
namespace {

constexpr absl::Duration kControlDeadline = absl::Seconds(10);

// A context whose call must be answered within kControlDeadline.
std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kControlDeadline));
  return context;
}

}  // namespace

ControlCalls::ControlCalls(const Fixture& server) : stub_(v1::FixtureControl::NewStub(server.control_channel())) {}

absl::StatusOr<int64_t> ControlCalls::InjectFault(const v1::FaultSpec& spec) {
  v1::InjectFaultRequest request;
  *request.mutable_fault() = spec;
  v1::InjectFaultResponse response;
  grpc::Status status = stub_->InjectFault(Context().get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.id();
}

absl::StatusOr<int> ControlCalls::ClearFaults(std::optional<int64_t> id) {
  v1::ClearFaultsRequest request;
  if (id.has_value()) {
    request.set_id(*id);
  } else {
    request.set_all(true);
  }
  v1::ClearFaultsResponse response;
  grpc::Status status = stub_->ClearFaults(Context().get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.cleared();
}

absl::StatusOr<int> ControlCalls::DropConnections(absl::Duration refuse_for) {
  v1::DropConnectionsRequest request;
  if (refuse_for != absl::ZeroDuration()) *request.mutable_refuse_for() = ToProtoDuration(refuse_for);
  v1::DropConnectionsResponse response;
  grpc::Status status = stub_->DropConnections(Context().get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.closed();
}

absl::StatusOr<std::vector<v1::Fault>> ControlCalls::ListFaults() {
  v1::ListFaultsResponse response;
  grpc::Status status = stub_->ListFaults(Context().get(), v1::ListFaultsRequest(), &response);
  if (!status.ok()) return FromGrpc(status);
  return std::vector<v1::Fault>(response.faults().begin(), response.faults().end());
}

absl::StatusOr<v1::ResetResponse> ControlCalls::Reset() {
  v1::ResetResponse response;
  grpc::Status status = stub_->Reset(Context().get(), v1::ResetRequest(), &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<v1::ShutdownResponse> ControlCalls::Shutdown(absl::Duration grace, absl::Duration drain) {
  v1::ShutdownRequest request;
  *request.mutable_grace() = ToProtoDuration(grace);
  *request.mutable_drain() = ToProtoDuration(drain);
  v1::ShutdownResponse response;
  grpc::Status status = stub_->Shutdown(Context().get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

}  // namespace fixture::testing
