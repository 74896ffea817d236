// Attach instead of spawn: FIXTURE_<NAME>_ATTACH in fixturectl's environment
// makes `fixturectl run` use a server that is already running rather than
// start server NAME, as envtest's USE_EXISTING_CLUSTER does. Nothing is
// started or stopped for it; CMD gets its variables as for a started one.
//
//   FIXTURE_KV_ATTACH=unix:/tmp/fixture-Ab12Cd/control.sock   its control socket:
//       GetStatus gives its pid and endpoints (FIXTURE_KV_CONTROL, _PID, _GRPC)
//   FIXTURE_REDIS_ATTACH=127.0.0.1:6379                        an endpoint's address:
//       endpoint "redis" (the server's first --port, else "grpc"); no control
//   FIXTURE_WEB_ATTACH=http=127.0.0.1:8080,admin=127.0.0.1:8081  named endpoints
//
//   if (std::optional<std::string> target = AttachTarget(server.name)) {
//     absl::StatusOr<ServerAddresses> attached = Attach(server, *target, absl::Seconds(5));
//   }
#ifndef FIXTURE_TOOLS_FIXTURECTL_ATTACH_H_
#define FIXTURE_TOOLS_FIXTURECTL_ATTACH_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fixture/tools/fixturectl_env.h"
#include "fixture/tools/fixturectl_flags.h"

namespace fixturectl {

// The value of FIXTURE_<NAME>_ATTACH (NAME as fixture::VariableNamePart
// spells it), or nullopt when it is unset or empty.
std::optional<std::string> AttachTarget(const std::string& name);

// What CMD learns of `server` from `target` (see above). A control address
// ("unix:...") must answer GetStatus within `timeout`: UNAVAILABLE (or
// DEADLINE_EXCEEDED) naming the variable, the address and what gRPC said.
// InvalidArgument naming the variable for an empty endpoint name or address.
absl::StatusOr<ServerAddresses> Attach(const ServerSpec& server, const std::string& target, absl::Duration timeout);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_ATTACH_H_
