#include "fixture/tools/fixturectl_control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/grpc_status.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/proto_time.h"
#include "fixture/launch/socket_path.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/proto/control.grpc.pb.h"
#include "fixture/tools/fixturectl_channel.h"
#include "fixture/tools/fixturectl_exit_codes.h"
#include "fixture/tools/fixturectl_faults.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace fixturectl {
namespace {

namespace v1 = fixture::v1;

// A channel to a server's control address.
struct Control {
  std::string address;
  std::unique_ptr<v1::FixtureControl::Stub> stub;
};

// Checks `address` and connects (ChannelTo()).
absl::StatusOr<Control> Connect(const std::string& address) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ChannelTo(address, "--control", "unix:/tmp/fixture-x/control.sock");
  if (!channel.ok()) return channel.status();
  return Control{address, v1::FixtureControl::NewStub(*channel)};
}

// Reports the failed call `call` and returns its exit status (fixturectl_channel.h).
int CallFailure(const Control& control, absl::string_view call, const grpc::Status& rpc) {
  return fixturectl::CallFailure(control.address, call, rpc, "is the server running, and is this its control address?");
}

// GetStatus into `status`, bounded by `timeout`.
grpc::Status GetStatus(const Control& control, absl::Duration timeout, v1::Status* status) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  return control.stub->GetStatus(&context, v1::GetStatusRequest(), status);
}

// JSON of `message`, with the proto's field names.
std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

// status: prints the server's status as protobuf text, or with --json as
// JSON with the proto's field names.
int PrintStatus(const Control& control, const CommandLine& line) {
  v1::Status status;
  grpc::Status rpc = GetStatus(control, line.timeout, &status);
  if (!rpc.ok()) return CallFailure(control, "GetStatus", rpc);
  std::string out;
  if (line.json) {
    out = Json(status);
  } else {
    google::protobuf::TextFormat::PrintToString(status, &out);
  }
  fputs(out.c_str(), stdout);
  return 0;
}

// wait-ready: WaitReady with --timeout, on a channel that waits for the
// server to bind (the socket exists; it may not accept yet).
int WaitReady(const Control& control, const CommandLine& line) {
  grpc::ClientContext context;
  SetDeadline(&context, line.timeout);
  context.set_wait_for_ready(true);
  v1::WaitReadyRequest request;
  *request.mutable_timeout() = fixture::ToProtoDuration(line.timeout);
  v1::WaitReadyResponse response;
  grpc::Status rpc = control.stub->WaitReady(&context, request, &response);
  if (!rpc.ok()) return CallFailure(control, "WaitReady", rpc);
  printf("ready: pid %lld\n", static_cast<long long>(response.status().pid()));
  return 0;
}

// Waits up to `timeout` for the process behind `pidfd` to exit and says so;
// kExitTimeout (with what to do) if it still runs.
int AwaitExit(const fixture::UniqueFd& pidfd, pid_t pid, absl::Duration timeout) {
  absl::StatusOr<bool> exited =
      fixture::PollReadable(pidfd.get(), absl::Now() + timeout, absl::StrCat("pidfd of pid ", pid));
  if (!exited.ok()) return Fail(kExitOther, exited.status().message());
  if (!*exited) {
    return Fail(kExitTimeout, absl::StrCat("pid ", pid, " still runs ", absl::FormatDuration(timeout),
                                           " after Shutdown; stop it with kill -INT ", pid));
  }
  printf("pid %d stopped\n", pid);
  return 0;
}

// shutdown: Shutdown with --grace, then AwaitExit(). The pidfd is opened
// before the call, so the pid cannot name another process by then. Without
// a pidfd (another pid namespace, or the process is gone already) prints the
// Shutdown's reply instead of waiting.
int Shutdown(const Control& control, const CommandLine& line) {
  v1::Status status;
  grpc::Status rpc = GetStatus(control, line.timeout, &status);
  if (!rpc.ok()) return CallFailure(control, "GetStatus", rpc);
  pid_t pid = static_cast<pid_t>(status.pid());
  fixture::UniqueFd pidfd = fixture::OpenPidfd(pid);

  grpc::ClientContext context;
  SetDeadline(&context, line.timeout);
  v1::ShutdownRequest request;
  *request.mutable_grace() = fixture::ToProtoDuration(line.grace);
  *request.mutable_drain() = fixture::ToProtoDuration(line.drain);
  v1::ShutdownResponse response;
  rpc = control.stub->Shutdown(&context, request, &response);
  if (!rpc.ok()) return CallFailure(control, "Shutdown", rpc);
  if (!pidfd) {
    printf("shutdown %s: state %s\n", response.initiated() ? "initiated" : "already under way",
           v1::State_Name(response.state()).c_str());
    return 0;
  }
  // The drain comes first: --timeout counts from its end.
  return AwaitExit(pidfd, pid, line.drain + line.timeout);
}

// watch: prints each state change as it streams in, until the server ends
// the stream.
int Watch(const Control& control, const CommandLine&) {
  grpc::ClientContext context;
  auto reader = control.stub->Watch(&context, v1::WatchRequest());
  v1::StateChange change;
  while (reader->Read(&change)) {
    absl::Time time = fixture::FromProtoTimestamp(change.time());
    printf("%s %s\n", absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone()).c_str(),
           v1::State_Name(change.state()).c_str());
    fflush(stdout);
  }
  grpc::Status rpc = reader->Finish();
  if (!rpc.ok()) return CallFailure(control, "Watch", rpc);
  return 0;
}

// A fault command's failed call: kExitUsage for what the server refused as
// bad input, kExitNoSuchFault for an unknown id, else CallFailure().
int FaultCallFailure(const Control& control, absl::string_view call, const grpc::Status& rpc) {
  if (rpc.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return Fail(kExitUsage, absl::StrCat(call, " on ", control.address, " refused it: ", rpc.error_message()));
  }
  if (rpc.error_code() == grpc::StatusCode::NOT_FOUND) {
    return Fail(kExitNoSuchFault, absl::StrCat(call, " on ", control.address, ": ", rpc.error_message(),
                                               "; fixturectl faults lists them"));
  }
  return CallFailure(control, call, rpc);
}

// fault: InjectFault with the fault the flags describe; prints its id.
int InjectFault(const Control& control, const CommandLine& line) {
  absl::StatusOr<v1::FaultSpec> spec = FaultSpecFromFlags(line);
  if (!spec.ok()) return Fail(kExitUsage, spec.status().message());
  grpc::ClientContext context;
  SetDeadline(&context, line.timeout);
  v1::InjectFaultRequest request;
  *request.mutable_fault() = *std::move(spec);
  v1::InjectFaultResponse response;
  grpc::Status rpc = control.stub->InjectFault(&context, request, &response);
  if (!rpc.ok()) return FaultCallFailure(control, "InjectFault", rpc);
  printf("fault %lld\n", static_cast<long long>(response.id()));
  return 0;
}

// faults: ListFaults, one line per fault (or JSON).
int ListFaults(const Control& control, const CommandLine& line) {
  grpc::ClientContext context;
  SetDeadline(&context, line.timeout);
  v1::ListFaultsResponse response;
  grpc::Status rpc = control.stub->ListFaults(&context, v1::ListFaultsRequest(), &response);
  if (!rpc.ok()) return FaultCallFailure(control, "ListFaults", rpc);
  if (line.json) {
    fputs(Json(response).c_str(), stdout);
    return 0;
  }
  for (const v1::Fault& fault : response.faults()) puts(FaultLine(fault).c_str());
  return 0;
}

// clear-faults: ClearFaults of --id, or of all.
int ClearFaults(const Control& control, const CommandLine& line) {
  grpc::ClientContext context;
  SetDeadline(&context, line.timeout);
  v1::ClearFaultsRequest request;
  if (line.id.has_value()) {
    request.set_id(*line.id);
  } else {
    request.set_all(true);
  }
  v1::ClearFaultsResponse response;
  grpc::Status rpc = control.stub->ClearFaults(&context, request, &response);
  if (!rpc.ok()) return FaultCallFailure(control, "ClearFaults", rpc);
  printf("cleared %d\n", response.cleared());
  return 0;
}

// drop-connections: DropConnections with --refuse_for; prints "closed N".
// A --refuse_for the server refuses (negative, over an hour) is bad usage.
int DropConnections(const Control& control, const CommandLine& line) {
  grpc::ClientContext context;
  SetDeadline(&context, line.timeout);
  v1::DropConnectionsRequest request;
  if (line.refuse_for != absl::ZeroDuration())
    *request.mutable_refuse_for() = fixture::ToProtoDuration(line.refuse_for);
  v1::DropConnectionsResponse response;
  grpc::Status rpc = control.stub->DropConnections(&context, request, &response);
  if (!rpc.ok()) return FaultCallFailure(control, "DropConnections", rpc);
  printf("closed %d\n", response.closed());
  return 0;
}

// reset: Reset (the server's reset hook, then its call counts and faults
// cleared); prints "reset: N faults cleared". A server without a hook, not
// SERVING, or whose hook failed answers with the reason (CallFailure()).
int Reset(const Control& control, const CommandLine& line) {
  grpc::ClientContext context;
  SetDeadline(&context, line.timeout);
  v1::ResetResponse response;
  grpc::Status rpc = control.stub->Reset(&context, v1::ResetRequest(), &response);
  if (!rpc.ok()) return CallFailure(control, "Reset", rpc);
  printf("reset: %d faults cleared\n", response.faults_cleared());
  return 0;
}

struct ControlCommand {
  absl::string_view name;
  int (*run)(const Control& control, const CommandLine& line);
};

constexpr ControlCommand kControlCommands[] = {
    {"status", PrintStatus},
    {"wait-ready", WaitReady},
    {"shutdown", Shutdown},
    {"watch", Watch},
    {"fault", InjectFault},
    {"faults", ListFaults},
    {"clear-faults", ClearFaults},
    {"drop-connections", DropConnections},
    {"reset", Reset},
};

const ControlCommand* FindControlCommand(absl::string_view name) {
  for (const ControlCommand& command : kControlCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

}  // namespace

bool IsControlCommand(absl::string_view command) { return FindControlCommand(command) != nullptr; }

int RunControlCommand(const CommandLine& line) {
  const ControlCommand* command = FindControlCommand(line.command);
  if (command == nullptr) return Fail(kExitUsage, absl::StrCat("unknown command \"", line.command, "\""));
  absl::StatusOr<Control> control = Connect(line.control);
  if (!control.ok()) {
    int code = absl::IsInvalidArgument(control.status()) ? kExitUsage : kExitUnavailable;
    return Fail(code, control.status().message());
  }
  return command->run(*control, line);
}

}  // namespace fixturectl
