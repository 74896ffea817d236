// A child's environment: the parent's, minus what is removed, plus what is set.
//
// The one place the toolkit assembles an environment, for an exec'ed child
// (as the envp of execve) and for a forked one (applied in the child with
// setenv/unsetenv, which a fork of a single-threaded process may call).
//
//   EnvironmentChange change{.set = {{"FIXTURE_NAME", "kv"}}, .unset = {"FIXTURE_READY_FD"}};
//   std::vector<std::string> envp = ChildEnvironment(environ, change);
#ifndef FIXTURE_LAUNCH_ENVIRONMENT_H_
#define FIXTURE_LAUNCH_ENVIRONMENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fixture {

struct EnvironmentChange {
  // Variables to set ("NAME", "value"), overriding the inherited ones; a
  // later entry for the same name wins.
  std::vector<std::pair<std::string, std::string>> set;
  // Variables not to pass on (exact names).
  std::vector<std::string> unset;
  // Also drop every inherited variable whose name starts with one of these.
  std::vector<std::string> unset_prefixes;
};

// `base` (an environ-style, nullptr-terminated array; may be nullptr) with
// `change` applied, as "NAME=value" entries. Inherited order is kept, set
// variables come last.
std::vector<std::string> ChildEnvironment(char* const* base, const EnvironmentChange& change);

// Applies `change` to this process's own environment (a forked child before
// it runs server code). The errno text of setenv(3) if one fails.
absl::Status ApplyEnvironment(const EnvironmentChange& change);

// InvalidArgument ("bad variable name ...") unless `name` is a usable
// variable name: non-empty, without '='.
absl::Status CheckVariableName(absl::string_view name);

// A server or endpoint name as part of a variable name: upper-cased, every
// character other than A-Z and 0-9 as '_'. "kv-server.1" -> "KV_SERVER_1".
std::string VariableNamePart(absl::string_view name);

// The variable that holds endpoint `endpoint` of server `server` in the
// environment of a command run beside it: "FIXTURE_KV_GRPC".
std::string EndpointVariable(absl::string_view server, absl::string_view endpoint);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_ENVIRONMENT_H_
