#include "fixture/server/setup.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fixture::server {
namespace {

bool ValidEndpointName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

ServerSetup::Endpoint* ServerSetup::Find(absl::string_view name) {
  for (Endpoint& endpoint : endpoints_) {
    if (endpoint.name == name) return &endpoint;
  }
  return nullptr;
}

absl::Status ServerSetup::AddEndpoint(absl::string_view name, absl::string_view address) {
  if (!ValidEndpointName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint name \"", name, "\": use letters, digits and _"));
  }
  if (Find(name) != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint name \"", name, "\": already declared"));
  }
  // fixturectl names an endpoint's address FIXTURE_<SERVER>_<ENDPOINT>, next
  // to FIXTURE_<SERVER>_CONTROL and FIXTURE_<SERVER>_PID.
  if (absl::EqualsIgnoreCase(name, "control") || absl::EqualsIgnoreCase(name, "pid")) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint name \"", name,
                                                   "\": reserved (FIXTURE_<NAME>_CONTROL and FIXTURE_<NAME>_PID are "
                                                   "the server's control address and pid); choose another name"));
  }
  if (address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint \"", name, "\": address is empty"));
  }
  endpoints_.push_back(Endpoint{std::string(name), std::string(address), {}, {}});
  return absl::OkStatus();
}

absl::Status ServerSetup::AddService(grpc::Service* service, absl::string_view endpoint) {
  if (service == nullptr) return absl::InvalidArgumentError("AddService: service is null");
  if (Find(endpoint) == nullptr) {
    absl::Status added = AddEndpoint(endpoint);
    if (!added.ok()) return added;
  }
  Find(endpoint)->services.push_back(service);
  return absl::OkStatus();
}

absl::Status ServerSetup::ConfigureEndpoint(absl::string_view endpoint,
                                            std::function<void(grpc::ServerBuilder&)> configure) {
  Endpoint* found = Find(endpoint);
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("endpoint \"", endpoint, "\" is not declared"));
  found->configure.push_back(std::move(configure));
  return absl::OkStatus();
}

void ServerSetup::SetLabel(absl::string_view key, absl::string_view value) {
  labels_[std::string(key)] = std::string(value);
}

}  // namespace fixture::server
