#include "fixture/server/registry.h"

#include <stdio.h>
#include <stdlib.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fixture::server {
namespace {

std::map<std::string, RegisteredServer>& Registry() {
  static auto* const registry = new std::map<std::string, RegisteredServer>();
  return *registry;
}

}  // namespace

bool RegisterServer(absl::string_view name, RegisteredServer server) {
  auto [it, inserted] = Registry().emplace(std::string(name), server);
  if (!inserted) {
    fprintf(stderr, "fixture: FIXTURE_SERVER(%s) is defined twice in this program\n", it->first.c_str());
    abort();
  }
  return true;
}

absl::StatusOr<RegisteredServer> FindRegisteredServer(absl::string_view name) {
  auto found = Registry().find(std::string(name));
  if (found != Registry().end()) return found->second;
  std::vector<std::string> names;
  for (const auto& [registered, server] : Registry()) names.push_back(registered);
  return absl::NotFoundError(absl::StrCat("no FIXTURE_SERVER(", name, ") in this program; registered: ",
                                          names.empty() ? "none" : absl::StrJoin(names, ", ")));
}

}  // namespace fixture::server
