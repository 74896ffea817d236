#include "fixture/tools/fixturectl_env.h"

#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fixture/launch/protocol.h"

namespace fixturectl {
namespace {

// The variables fixturectl sets for each server, after FIXTURE_<NAME>_.
constexpr absl::string_view kOwnKeys[] = {"CONTROL", "PID"};

}  // namespace

absl::Status CheckEndpointNames(const fixture::Fixture& server) {
  const std::string prefix = absl::StrCat("FIXTURE_", fixture::VariableNamePart(server.name()), "_");
  for (const fixture::v1::Endpoint& endpoint : server.endpoints()) {
    const std::string key = fixture::VariableNamePart(endpoint.name());
    if (key.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("server \"", server.name(),
                                                        "\" reports an endpoint without a name (address ",
                                                        endpoint.address(), "); name every endpoint"));
    }
    for (absl::string_view own : kOwnKeys) {
      if (key != own) continue;
      return absl::FailedPreconditionError(
          absl::StrCat("server \"", server.name(), "\" reports an endpoint \"", endpoint.name(), "\", whose variable ",
                       prefix, key, " is fixturectl's own (the server's ", own == "PID" ? "pid" : "control address",
                       "); rename the endpoint (a server built on server/ refuses that name at setup)"));
    }
  }
  return absl::OkStatus();
}

ServerAddresses AddressesOf(const fixture::Fixture& server) {
  return ServerAddresses{server.name(), server.control_address(), server.pid(), server.endpoints()};
}

absl::StatusOr<fixture::EnvironmentChange> CommandEnvironment(const std::vector<ServerAddresses>& servers,
                                                              const char* inherited_servers) {
  fixture::EnvironmentChange env;
  env.unset = {"FIXTURE_SERVERS",
               "FIXTURE_CONTROL",
               fixture::launch::kControlAddressEnv,
               fixture::launch::kReadyFdEnv,
               fixture::launch::kNameEnv,
               fixture::launch::kEndpointPortsEnv};
  if (inherited_servers != nullptr) {
    for (absl::string_view name : absl::StrSplit(inherited_servers, ' ', absl::SkipWhitespace())) {
      env.unset_prefixes.push_back(absl::StrCat("FIXTURE_", fixture::VariableNamePart(name), "_"));
    }
  }
  // Each variable set, with what it is, to tell a collision.
  std::map<std::string, std::string> what;
  auto set = [&](std::string key, std::string value, std::string description) -> absl::Status {
    auto [it, fresh] = what.emplace(key, description);
    if (!fresh) {
      return absl::FailedPreconditionError(
          absl::StrCat("variable ", key, " would be both ", it->second, " and ", description, "; rename one of them"));
    }
    env.set.emplace_back(std::move(key), std::move(value));
    return absl::OkStatus();
  };
  std::vector<std::string> names;
  for (const ServerAddresses& server : servers) {
    const std::string prefix = absl::StrCat("FIXTURE_", fixture::VariableNamePart(server.name), "_");
    env.unset_prefixes.push_back(prefix);
    const std::string who = absl::StrCat("server \"", server.name, "\"'s ");
    absl::Status added = absl::OkStatus();
    if (!server.control.empty()) added = set(prefix + "CONTROL", server.control, who + "control address");
    if (added.ok() && server.pid > 0) added = set(prefix + "PID", absl::StrCat(server.pid), who + "pid");
    for (const fixture::v1::Endpoint& endpoint : server.endpoints) {
      if (!added.ok()) break;
      added = set(prefix + fixture::VariableNamePart(endpoint.name()), endpoint.address(),
                  absl::StrCat(who, "endpoint \"", endpoint.name(), "\""));
    }
    if (!added.ok()) return added;
    names.push_back(server.name);
  }
  if (!servers.empty() && !servers.front().control.empty()) {
    env.set.emplace_back("FIXTURE_CONTROL", servers.front().control);
  }
  env.set.emplace_back("FIXTURE_SERVERS", absl::StrJoin(names, " "));
  return env;
}

}  // namespace fixturectl
