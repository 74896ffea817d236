// `fixturectl run`: the servers up for the length of one command.
//
// Run() starts every --server as a fixture::Fixture and waits until each is
// ready, runs CMD (through fixture::Launch, like every process the toolkit
// starts) with the servers' addresses in its environment, forwards the
// signals fixturectl gets to CMD, reports each server that dies meanwhile,
// stops the servers when CMD ends and exits with CMD's status:
//
//   FIXTURE_SERVERS            the server names, space-separated
//   FIXTURE_CONTROL            control address of the first server
//   FIXTURE_<NAME>_CONTROL     control address of server NAME
//   FIXTURE_<NAME>_PID         its pid
//   FIXTURE_<NAME>_<ENDPOINT>  address of its endpoint ENDPOINT
//
// (NAME and ENDPOINT as EnvName() spells them; the caller's own FIXTURE_*
// variables, from an enclosing run, are not passed on.)
#ifndef FIXTURE_TOOLS_FIXTURECTL_RUN_H_
#define FIXTURE_TOOLS_FIXTURECTL_RUN_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tools/fixturectl_flags.h"

namespace fixturectl {

// Runs `line` (command "run") to the end; fixturectl's exit status: CMD's
// (128+N if it died of signal N), else one of fixturectl_exit_codes.h, with
// the reason on stderr.
int Run(const CommandLine& line);

// A server or endpoint name as part of a variable name: upper-cased, every
// character other than A-Z and 0-9 as '_'. "kv-server.1" -> "KV_SERVER_1".
std::string EnvName(absl::string_view name);

// The exit status for a failed fixture::Fixture::Start(), from its Failure
// payload and status code: kExitNoServerBinary for a program not found or not
// executable, kExitUsage for a bad option, kExitTimeout for a server not
// ready in time, kExitServerFailed for anything else.
int StartFailureExitCode(const absl::Status& status);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_RUN_H_
