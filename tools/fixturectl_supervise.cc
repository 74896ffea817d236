#include "fixture/tools/fixturectl_supervise.h"

#include <signal.h>
#include <stdio.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/launch/exit_info.h"
#include "fixture/proto/supervisor.grpc.pb.h"
#include "fixture/tools/fixturectl_channel.h"
#include "fixture/tools/fixturectl_exit_codes.h"
#include "grpcpp/client_context.h"

namespace fixturectl {
namespace {

namespace v1 = fixture::v1;

// A restart waits for the new process to be ready (its ready_timeout, 10 s by
// default) after the old one's stop: the call's own bound is well beyond.
constexpr absl::Duration kCallTimeout = absl::Minutes(5);

constexpr char kHint[] = "is this inside `fixturectl run`'s CMD, and has CMD not ended?";

// The exit status of a failed supervisor call, by its code.
int SupervisorFailure(const CommandLine& line, absl::string_view call, const grpc::Status& rpc) {
  const std::string what = absl::StrCat(call, " of \"", line.target, "\" on ", line.supervisor, " failed: ");
  switch (rpc.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Fail(kExitUsage, absl::StrCat(what, rpc.error_message()));
    case grpc::StatusCode::ABORTED:  // A restart whose new process did not start.
      return Fail(kExitServerFailed, absl::StrCat(what, rpc.error_message()));
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Fail(kExitOther, absl::StrCat(what, rpc.error_message()));
    default:
      return CallFailure(line.supervisor, absl::StrCat(call, " of \"", line.target, "\""), rpc, kHint);
  }
}

}  // namespace

int RunSupervisorCommand(const CommandLine& line) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ChannelTo(line.supervisor, "--supervisor (or FIXTURE_SUPERVISOR)", "unix:/tmp/fixture-x/supervisor.sock");
  if (!channel.ok()) {
    if (absl::IsInvalidArgument(channel.status())) return Fail(kExitUsage, channel.status().message());
    return Fail(kExitUnavailable, absl::StrCat(channel.status().message(), " (", kHint, ")"));
  }
  std::unique_ptr<v1::Supervisor::Stub> stub = v1::Supervisor::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context, kCallTimeout);
  v1::ServerRequest request;
  request.set_name(line.target);
  if (line.command == "restart") {
    v1::RestartResponse response;
    grpc::Status rpc = stub->Restart(&context, request, &response);
    if (!rpc.ok()) return SupervisorFailure(line, "Restart", rpc);
    printf("restarted %s: pid %lld (was pid %lld, %s)\n", line.target.c_str(), static_cast<long long>(response.pid()),
           static_cast<long long>(response.old_pid()), response.old_end().c_str());
    return 0;
  }
  if (line.command == "kill") {
    int signal = SIGKILL;
    if (!line.signal.empty()) {
      std::optional<int> named = fixture::SignalNumber(line.signal);
      if (!named.has_value()) {
        return Fail(kExitUsage, absl::StrCat("--signal=", line.signal, ": no such signal (SIGTERM, TERM, 15)"));
      }
      signal = *named;
    }
    v1::KillRequest kill;
    kill.set_name(line.target);
    kill.set_signal(signal);
    v1::ServerResponse response;
    grpc::Status rpc = stub->Kill(&context, kill, &response);
    if (!rpc.ok()) return SupervisorFailure(line, "Kill", rpc);
    printf("killed %s: pid %lld, %s\n", line.target.c_str(), static_cast<long long>(response.pid()),
           fixture::SignalName(signal).c_str());
    return 0;
  }
  const bool pause = line.command == "pause";
  v1::ServerResponse response;
  grpc::Status rpc = pause ? stub->Pause(&context, request, &response) : stub->Resume(&context, request, &response);
  if (!rpc.ok()) return SupervisorFailure(line, pause ? "Pause" : "Resume", rpc);
  printf("%s %s: pid %lld\n", pause ? "paused" : "resumed", line.target.c_str(),
         static_cast<long long>(response.pid()));
  return 0;
}

}  // namespace fixturectl
