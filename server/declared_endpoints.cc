#include "server/declared_endpoints.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "fixture/launch/protocol.h"
#include "fixture/launch/socket_path.h"
#include "fixture/server/bounded_shutdown.h"
#include "fixture/server/setup_access.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/fault_handlers.h"
#include "server/grpc_helpers.h"
#include "server/log.h"

namespace fixture::server {
namespace {

// "127.0.0.1:0" with `port` 41234 -> "127.0.0.1:41234"; any other address,
// or port 0, as it is.
std::string BoundAddress(const std::string& address, int port) {
  absl::string_view host = address;
  if (UnixSocketPath(address).empty() && port > 0 && absl::ConsumeSuffix(&host, ":0")) {
    return absl::StrCat(host, ":", port);
  }
  return address;
}

}  // namespace

std::optional<std::vector<v1::Endpoint>> DeclaredEndpoints::Build(ServerSetup& declared,
                                                                  const std::shared_ptr<CallCounter>& counter,
                                                                  const std::shared_ptr<FaultInjector>& faults,
                                                                  const std::string& name,
                                                                  const std::map<std::string, int>& ports) {
  std::vector<v1::Endpoint> bound;
  for (SetupAccess::Endpoint& endpoint : SetupAccess::endpoints(declared)) {
    auto pinned = ports.find(endpoint.name);
    const std::string address = BoundAddress(endpoint.address, pinned != ports.end() ? pinned->second : 0);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    // A fixed port must really be ours: no silent sharing through SO_REUSEPORT.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    for (grpc::Service* service : endpoint.services) builder.RegisterService(service);
    builder.experimental().SetInterceptorCreators(counter->Factories());
    ApplySyncServerOptions(builder);
    for (auto& configure : endpoint.configure) configure(builder);
    FaultBuilderServices(builder, faults);  // Those the configure functions registered too.
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr) {
      Log(name, "endpoint \"%s\" cannot listen on %s (address in use, bad address or no permission)%s", endpoint.name,
          address,
          address != endpoint.address
              ? absl::StrCat(" (", endpoint.address, " pinned by ", launch::kEndpointPortsEnv, " for a restart)")
              : "");
      return std::nullopt;
    }
    v1::Endpoint& entry = bound.emplace_back();
    entry.set_name(endpoint.name);
    entry.set_address(BoundAddress(address, port));
    entry.set_port(UnixSocketPath(endpoint.address).empty() ? port : 0);
    servers_.push_back(std::move(server));
  }
  return bound;
}

void DeclaredEndpoints::NotServing() {
  for (auto& server : servers_) SetHealth(server.get(), false);
}

void DeclaredEndpoints::Drain(absl::Time deadline, const CallCounter& counter, const Lifecycle& lifecycle) {
  NotServing();
  // All endpoints at once: each refuses new calls from now on, and each
  // call in flight on any of them gets the same grace.
  std::vector<std::thread> stopping;
  for (auto& server : servers_) {
    stopping.emplace_back([&server, &counter, &lifecycle, deadline] {
      BoundedShutdown(server.get(), counter, deadline, /*linger=*/false, &lifecycle);
    });
  }
  for (std::thread& t : stopping) t.join();
  servers_.clear();
}

}  // namespace fixture::server
