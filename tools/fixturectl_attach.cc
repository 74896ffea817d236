#include "fixture/tools/fixturectl_attach.h"

#include <stdlib.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fixture/launch/environment.h"
#include "fixture/proto/control.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace fixturectl {
namespace {

std::string VariableOf(const std::string& name) {
  return absl::StrCat("FIXTURE_", fixture::VariableNamePart(name), "_ATTACH");
}

fixture::v1::Endpoint EndpointOf(std::string name, std::string address) {
  fixture::v1::Endpoint endpoint;
  endpoint.set_name(std::move(name));
  endpoint.set_address(std::move(address));
  return endpoint;
}

}  // namespace

std::optional<std::string> AttachTarget(const std::string& name) {
  const char* value = getenv(VariableOf(name).c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

absl::StatusOr<ServerAddresses> Attach(const ServerSpec& server, const std::string& target, absl::Duration timeout) {
  const std::string variable = VariableOf(server.name);
  ServerAddresses out;
  out.name = server.name;
  if (absl::StartsWith(target, "unix:")) {
    std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    std::unique_ptr<fixture::v1::FixtureControl::Stub> stub = fixture::v1::FixtureControl::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context.set_wait_for_ready(true);  // A socket that is not there yet gets the timeout, not an instant failure.
    fixture::v1::Status status;
    grpc::Status called = stub->GetStatus(&context, fixture::v1::GetStatusRequest(), &status);
    if (!called.ok()) {
      return absl::Status(called.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                              ? absl::StatusCode::kUnavailable
                              : static_cast<absl::StatusCode>(called.error_code()),
                          absl::StrCat(variable, "=", target, ": GetStatus of the server to attach to failed (",
                                       called.error_message(), "); is it running, and is that its control socket?"));
    }
    out.control = target;
    out.pid = status.pid();
    out.endpoints.assign(status.endpoints().begin(), status.endpoints().end());
    return out;
  }
  if (!absl::StrContains(target, '=')) {
    std::string name = server.ports.empty() ? "grpc" : server.ports.front();
    out.endpoints.push_back(EndpointOf(std::move(name), target));
    return out;
  }
  for (absl::string_view pair : absl::StrSplit(target, ',', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(variable, "=", target, ": \"", pair,
                                                     "\" is not ENDPOINT=ADDRESS (or give a control address, "
                                                     "unix:/path, or one address)"));
    }
    out.endpoints.push_back(EndpointOf(parts[0], parts[1]));
  }
  return out;
}

}  // namespace fixturectl
