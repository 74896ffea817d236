#include "fixture/server/control_service.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fixture/launch/proto_time.h"

namespace fixture::server {
namespace {

// Validates a request duration field: InvalidArgument naming `field`.
grpc::Status CheckDuration(const google::protobuf::Duration& value, absl::string_view field, absl::Duration* out) {
  absl::StatusOr<absl::Duration> d = FromRequestDuration(value, field);
  if (!d.ok()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(d.status().message()));
  *out = *d;
  return grpc::Status::OK;
}

absl::Time ContextDeadline(const grpc::ServerContext& context) {
  std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// An absl::Status (the FaultInjector's, the reset hook's) as the call's status.
grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

const grpc::Status kStalled(grpc::StatusCode::UNAVAILABLE, "control service stalled for testing");

}  // namespace

ControlService::ControlService(Lifecycle* lifecycle, std::shared_ptr<CallCounter> counter,
                               std::shared_ptr<FaultInjector> faults, std::string name)
    : lifecycle_(lifecycle), counter_(std::move(counter)), faults_(std::move(faults)), name_(std::move(name)) {}

void ControlService::SetEndpoints(std::vector<v1::Endpoint> endpoints) {
  absl::MutexLock lock(&mu_);
  endpoints_ = std::move(endpoints);
}

void ControlService::SetLabels(std::map<std::string, std::string> labels) {
  absl::MutexLock lock(&mu_);
  labels_ = std::move(labels);
}

void ControlService::SetResetHook(std::function<absl::Status()> hook) {
  absl::MutexLock lock(&mu_);
  reset_hook_ = std::move(hook);
}

void ControlService::Stall() {
  absl::MutexLock lock(&mu_);
  stalled_ = true;
}

bool ControlService::StalledUntilStopping() const {
  {
    absl::MutexLock lock(&mu_);
    if (!stalled_) return false;
  }
  lifecycle_->AwaitAtLeast(v1::STOPPING, absl::InfiniteFuture());
  return true;
}

v1::Status ControlService::CurrentStatus() const {
  v1::Status status;
  status.set_pid(::getpid());
  status.set_state(lifecycle_->state());
  status.set_name(name_);
  *status.mutable_start_time() = ToProtoTimestamp(lifecycle_->start_time());
  *status.mutable_uptime() = ToProtoDuration(absl::Now() - lifecycle_->start_time());
  {
    absl::MutexLock lock(&mu_);
    for (const v1::Endpoint& endpoint : endpoints_) *status.add_endpoints() = endpoint;
    status.mutable_labels()->insert(labels_.begin(), labels_.end());
  }
  for (const auto& [method, calls] : counter_->Snapshot()) {
    v1::MethodCalls* entry = status.add_method_calls();
    entry->set_method(method);
    entry->set_calls(calls);
  }
  for (v1::Fault& fault : faults_->List()) *status.add_faults() = std::move(fault);
  if (std::optional<absl::Time> until = faults_->RefusingConnectionsUntil()) {
    *status.mutable_refusing_connections_until() = ToProtoTimestamp(*until);
  }
  return status;
}

grpc::Status ControlService::WaitReady(grpc::ServerContext* context, const v1::WaitReadyRequest* request,
                                       v1::WaitReadyResponse* response) {
  if (StalledUntilStopping()) return kStalled;
  absl::Time deadline = ContextDeadline(*context);
  if (request->has_timeout()) {
    absl::Duration timeout;
    grpc::Status valid = CheckDuration(request->timeout(), "timeout", &timeout);
    if (!valid.ok()) return valid;
    deadline = std::min(deadline, absl::Now() + timeout);
  }
  v1::State state = lifecycle_->AwaitAtLeast(v1::SERVING, deadline);
  if (state == v1::SERVING) {
    *response->mutable_status() = CurrentStatus();
    return grpc::Status::OK;
  }
  if (state > v1::SERVING) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("the server is ", v1::State_Name(state), " and will not become ready"));
  }
  return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                      absl::StrCat("the server is still ", v1::State_Name(state), " at the deadline"));
}

grpc::Status ControlService::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*, v1::Status* response) {
  if (StalledUntilStopping()) return kStalled;
  *response = CurrentStatus();
  return grpc::Status::OK;
}

grpc::Status ControlService::Shutdown(grpc::ServerContext*, const v1::ShutdownRequest* request,
                                      v1::ShutdownResponse* response) {
  if (StalledUntilStopping()) return kStalled;
  absl::Duration grace = absl::ZeroDuration();
  absl::Duration drain = absl::ZeroDuration();
  grpc::Status valid = CheckDuration(request->grace(), "grace", &grace);
  if (valid.ok()) valid = CheckDuration(request->drain(), "drain", &drain);
  if (!valid.ok()) return valid;
  response->set_initiated(lifecycle_->RequestStop(grace, drain));
  response->set_state(lifecycle_->state());
  return grpc::Status::OK;
}

grpc::Status ControlService::Watch(grpc::ServerContext* context, const v1::WatchRequest*,
                                   grpc::ServerWriter<v1::StateChange>* writer) {
  if (StalledUntilStopping()) return kStalled;
  // The first message is the current state (the latest transition), as the
  // contract says; the transitions before it are not replayed.
  size_t seen = lifecycle_->AwaitHistory(0, absl::InfinitePast()).size() - 1;
  for (;;) {
    // Wake up now and then to notice a client that went away.
    std::vector<Lifecycle::Transition> changes = lifecycle_->AwaitHistory(seen, absl::Now() + absl::Milliseconds(100));
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    for (const Lifecycle::Transition& change : changes) {
      v1::StateChange message;
      message.set_state(change.state);
      *message.mutable_time() = ToProtoTimestamp(change.time);
      if (!writer->Write(message)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      if (change.state == v1::STOPPING) return grpc::Status::OK;
    }
    seen += changes.size();
  }
}

grpc::Status ControlService::InjectFault(grpc::ServerContext*, const v1::InjectFaultRequest* request,
                                         v1::InjectFaultResponse* response) {
  if (StalledUntilStopping()) return kStalled;
  absl::StatusOr<int64_t> id = faults_->Add(request->fault());
  if (!id.ok()) return ToGrpc(id.status());
  response->set_id(*id);
  return grpc::Status::OK;
}

grpc::Status ControlService::DropConnections(grpc::ServerContext*, const v1::DropConnectionsRequest* request,
                                             v1::DropConnectionsResponse* response) {
  if (StalledUntilStopping()) return kStalled;
  absl::StatusOr<int> closed = faults_->DropConnections(request->refuse_for());
  if (!closed.ok()) return ToGrpc(closed.status());
  response->set_closed(*closed);
  return grpc::Status::OK;
}

grpc::Status ControlService::ClearFaults(grpc::ServerContext*, const v1::ClearFaultsRequest* request,
                                         v1::ClearFaultsResponse* response) {
  if (StalledUntilStopping()) return kStalled;
  switch (request->which_case()) {
    case v1::ClearFaultsRequest::kId: {
      absl::Status cleared = faults_->Clear(request->id());
      if (!cleared.ok()) return ToGrpc(cleared);
      response->set_cleared(1);
      return grpc::Status::OK;
    }
    case v1::ClearFaultsRequest::kAll:
      if (request->all()) {
        response->set_cleared(faults_->ClearAll());
        return grpc::Status::OK;
      }
      break;
    case v1::ClearFaultsRequest::WHICH_NOT_SET:
      break;
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "which: set id (one fault) or all=true (every fault)");
}

grpc::Status ControlService::ListFaults(grpc::ServerContext*, const v1::ListFaultsRequest*,
                                        v1::ListFaultsResponse* response) {
  if (StalledUntilStopping()) return kStalled;
  for (v1::Fault& fault : faults_->List()) *response->add_faults() = std::move(fault);
  return grpc::Status::OK;
}

grpc::Status ControlService::Reset(grpc::ServerContext*, const v1::ResetRequest*, v1::ResetResponse* response) {
  if (StalledUntilStopping()) return kStalled;
  absl::MutexLock one_at_a_time(&reset_mu_);
  if (v1::State state = lifecycle_->state(); state != v1::SERVING) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("the server is ", v1::State_Name(state), ": Reset needs it SERVING; nothing was reset"));
  }
  std::function<absl::Status()> hook;
  {
    absl::MutexLock lock(&mu_);
    hook = reset_hook_;
  }
  if (!hook) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this server has no reset hook, so nothing was reset; register one with ServerSetup::OnReset "
                        "in the server's setup function (server/setup.h)");
  }
  if (absl::Status reset = hook(); !reset.ok()) {
    return ToGrpc(absl::Status(reset.code(), absl::StrCat("reset hook failed: ", reset.message(),
                                                          " (call counts and faults were left as they were)")));
  }
  counter_->ClearCounts();
  response->set_faults_cleared(faults_->ClearAll());
  return grpc::Status::OK;
}

}  // namespace fixture::server
