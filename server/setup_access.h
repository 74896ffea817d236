// SetupAccess: the server library's own view of what a ServerSetup declared.
// Internal to server/ (and its test hooks); users see server/setup.h.
#ifndef FIXTURE_SERVER_SETUP_ACCESS_H_
#define FIXTURE_SERVER_SETUP_ACCESS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fixture/server/setup.h"

namespace fixture::server {

struct SetupAccess {
  using Endpoint = ServerSetup::Endpoint;
  static std::vector<Endpoint>& endpoints(ServerSetup& setup) { return setup.endpoints_; }
  static const std::map<std::string, std::string>& labels(const ServerSetup& setup) { return setup.labels_; }
  static const std::function<absl::Status()>& reset_hook(const ServerSetup& setup) { return setup.reset_; }
  static bool stall_control(const ServerSetup& setup) { return setup.stall_control_; }
  static void set_stall_control(ServerSetup& setup) { setup.stall_control_ = true; }
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_SETUP_ACCESS_H_
