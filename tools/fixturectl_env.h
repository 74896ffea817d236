// CMD's environment in `fixturectl run`: fixturectl's own, minus what
// fixturectl owns, plus the servers' variables:
//
//   FIXTURE_SERVERS            the server names, space-separated
//   FIXTURE_CONTROL            control address of the first server
//   FIXTURE_<NAME>_CONTROL     control address of server NAME
//   FIXTURE_<NAME>_PID         its pid
//   FIXTURE_<NAME>_<ENDPOINT>  address of its endpoint ENDPOINT
//
// (NAME and ENDPOINT as EnvName() spells them.) What fixturectl owns, and so
// never passes on from its own environment: FIXTURE_SERVERS, FIXTURE_CONTROL,
// the launch protocol's FIXTURE_CONTROL_ADDRESS, FIXTURE_READY_FD and
// FIXTURE_NAME (proto/launch.proto), and FIXTURE_<NAME>_* for this run's
// servers and for every server an enclosing run listed in the
// FIXTURE_SERVERS fixturectl inherited. Every other variable, FIXTURE_*
// included (FIXTURE_FORK_SERVER_REEXEC), reaches CMD as it is.
#ifndef FIXTURE_TOOLS_FIXTURECTL_ENV_H_
#define FIXTURE_TOOLS_FIXTURECTL_ENV_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fixture/fixture.h"
#include "fixture/launch/environment.h"

namespace fixturectl {

// What CMD learns of one server: a started Fixture's, or an attached
// server's (fixturectl_attach.h: control and pid may be unknown, "" and 0).
struct ServerAddresses {
  std::string name;
  std::string control;  // "unix:/path", or "" (not set for CMD)
  pid_t pid = 0;        // 0: not set for CMD
  std::vector<fixture::v1::Endpoint> endpoints;
};

// A started server's.
ServerAddresses AddressesOf(const fixture::Fixture& server);

// OK unless one of `server`'s endpoints would give a variable fixturectl
// sets itself (an endpoint "control" or "pid": FIXTURE_<NAME>_CONTROL and
// _PID), or none at all (an empty name); then FailedPrecondition naming the
// endpoint.
absl::Status CheckEndpointNames(const fixture::Fixture& server);

// CMD's environment change for `servers` (in start order), given the
// FIXTURE_SERVERS fixturectl inherited (`inherited_servers`, nullptr when
// unset). FailedPrecondition if two of the variables to set have the same
// name (say, server "kv"'s endpoint "a_pid" and server "kv_a"'s pid).
absl::StatusOr<fixture::EnvironmentChange> CommandEnvironment(const std::vector<ServerAddresses>& servers,
                                                              const char* inherited_servers);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_ENV_H_
