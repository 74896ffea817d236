// Registered in-process servers: server code compiled into the test binary
// itself, started by name in a forked child.
//
// In the spirit of Chromium's MULTIPROCESS_TEST_MAIN: the test binary holds
// the server code, and a fixture started with FixtureOptions.server = "Name"
// runs it in a child forked by the fork server (fixture/fork_server.h), which
// was forked at the start of main(), before gRPC, and so is safe to fork from.
//
//   FIXTURE_SERVER(InMemoryKv, setup, args) {
//     static fixture::example::KeyValueService kv;  // lives in the child
//     setup.SetLabel("args", absl::StrJoin(args, " "));
//     return setup.AddService(&kv);
//   }
//   ...
//   auto kv = fixture::Fixture::Start({.name = "kv", .server = "InMemoryKv"});
#ifndef FIXTURE_SERVER_REGISTRY_H_
#define FIXTURE_SERVER_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fixture/server/setup.h"

namespace fixture::server {

// The code of a registered server: declares its endpoints and services on
// `setup`, given the arguments the parent passed (FixtureOptions.args).
using RegisteredServer = absl::Status (*)(ServerSetup& setup, const std::vector<std::string>& args);

// Registers `server` under `name`; returns true. Called by FIXTURE_SERVER
// during static initialisation. A name registered twice aborts the program
// with a message (a link-time mistake, found before any test runs).
bool RegisterServer(absl::string_view name, RegisteredServer server);

// The server registered as `name`. NotFound listing the registered names.
absl::StatusOr<RegisteredServer> FindRegisteredServer(absl::string_view name);

}  // namespace fixture::server

// Defines and registers server `name` (an identifier). The body sees
// `setup_var` (a ServerSetup&) and `args_var` (the arguments).
#define FIXTURE_SERVER(name, setup_var, args_var)                                           \
  static ::absl::Status FixtureServer_##name(::fixture::server::ServerSetup& setup_var,     \
                                             const ::std::vector<::std::string>& args_var); \
  [[maybe_unused]] static const bool fixture_server_registered_##name =                     \
      ::fixture::server::RegisterServer(#name, &FixtureServer_##name);                      \
  static ::absl::Status FixtureServer_##name(::fixture::server::ServerSetup& setup_var,     \
                                             [[maybe_unused]] const ::std::vector<::std::string>& args_var)

#endif  // FIXTURE_SERVER_REGISTRY_H_
