#include "fixture/server/server.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fixture/launch/protocol.h"
#include "fixture/server/setup_access.h"
#include "server/declared_endpoints.h"
#include "server/log.h"
#include "server/server_process.h"

namespace fixture::server {
namespace {

// Control socket, setup, endpoints, ready, then the stop of the endpoints.
int Serve(ServerProcess& process, DeclaredEndpoints& endpoints, const SetupFunction& setup) {
  const RunOptions& options = process.options();
  if (!process.StartControl()) return kExitBadLaunch;

  ServerSetup declared(options.name);
  if (absl::Status ok = setup(declared); !ok.ok()) {
    Log(options.name, "setup failed: %s", ok.ToString());
    return kExitSetupFailed;
  }
  if (SetupAccess::stall_control(declared)) process.control().Stall();
  process.control().SetLabels(SetupAccess::labels(declared));
  process.control().SetResetHook(SetupAccess::reset_hook(declared));

  std::optional<std::vector<v1::Endpoint>> bound =
      endpoints.Build(declared, process.counter(), process.faults(), options.name, options.endpoint_ports);
  if (!bound.has_value()) return kExitSetupFailed;
  // The endpoints outlive the first stop request: it comes before
  // AwaitStopRequest() returns.
  process.lifecycle().OnStopRequest([&endpoints] { endpoints.NotServing(); });
  process.Ready(*bound);
  process.AwaitStopRequest();
  // From the first moment of a stop: clients and load balancers move away
  // while the endpoints still answer (the drain), then they refuse.
  endpoints.NotServing();
  endpoints.Drain(process.AwaitDrainEnd(), *process.counter(), process.lifecycle());
  return kExitOk;
}

}  // namespace

absl::StatusOr<RunOptions> RunOptionsFromEnvironment() {
  RunOptions options;
  if (const char* address = getenv(launch::kControlAddressEnv)) {
    options.control_address = address;
    if (!absl::StartsWith(options.control_address, "unix:")) {
      return absl::InvalidArgumentError(absl::StrCat(launch::kControlAddressEnv, "=", options.control_address,
                                                     ": the control socket must be a \"unix:\" address"));
    }
  }
  if (const char* fd = getenv(launch::kReadyFdEnv)) {
    if (!absl::SimpleAtoi(fd, &options.ready_fd) || options.ready_fd < 0 || fcntl(options.ready_fd, F_GETFD) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(launch::kReadyFdEnv, "=", fd, ": not an open descriptor of this process"));
    }
  }
  if (const char* name = getenv(launch::kNameEnv)) options.name = name;
  if (const char* ports = getenv(launch::kEndpointPortsEnv)) {
    absl::StatusOr<std::map<std::string, int>> parsed = launch::ParseEndpointPorts(ports);
    if (!parsed.ok()) return parsed.status();
    options.endpoint_ports = *std::move(parsed);
  }
  unsetenv(launch::kControlAddressEnv);
  unsetenv(launch::kReadyFdEnv);
  unsetenv(launch::kNameEnv);
  unsetenv(launch::kEndpointPortsEnv);
  return options;
}

int Run(const RunOptions& options, const SetupFunction& setup) {
  // Debian builds abseil without NDEBUG, which turns on the Mutex deadlock
  // detector: it tracked every lock gRPC takes and cost ~0.6 ms of each
  // server's start-up. This process is ours; its locks are gRPC's and ours.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  ServerProcess process(options, ServerProcess::Mode::kRun);
  DeclaredEndpoints endpoints;  // Destroyed after the process finished, as its servers always were.
  int status = Serve(process, endpoints, setup);
  process.Finish();
  if (options.exit_when_finished) {
    fflush(stdout);
    fflush(stderr);
    _exit(status);
  }
  return status;
}

int Main(const SetupFunction& setup) {
  absl::StatusOr<RunOptions> options = RunOptionsFromEnvironment();
  if (!options.ok()) {
    Log("", "bad launch environment: %s", options.status().ToString());
    return kExitBadLaunch;
  }
  return Run(*options, setup);
}

}  // namespace fixture::server
