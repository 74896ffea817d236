// A channel from a fixturectl client command to a Unix-socket address given
// on its command line (a server's --control, `fixturectl run`'s
// --supervisor), and the exit status of a call on it that failed.
//
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelTo(address, "--control", "unix:/tmp/x/c.sock");
//   SetDeadline(&context, absl::Seconds(10));
//   if (!rpc.ok()) return CallFailure(address, "GetStatus", rpc, "is the server running?");
#ifndef FIXTURE_TOOLS_FIXTURECTL_CHANNEL_H_
#define FIXTURE_TOOLS_FIXTURECTL_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace fixturectl {

// Checks `address` and connects (lazily, as gRPC does). InvalidArgument when
// it is empty ("`flag`=ADDR is required (e.g. `example`)"); Unavailable when
// it names a Unix socket that does not exist, reported before any call.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelTo(const std::string& address, absl::string_view flag,
                                                         absl::string_view example);

// Bounds the call of `context` to `timeout` from now.
void SetDeadline(grpc::ClientContext* context, absl::Duration timeout);

// Reports the failed call `call` ("GetStatus on ADDR failed: ...") on stderr
// and returns its exit status by the call's status code: kExitUnavailable
// (with `unavailable_hint`), kExitTimeout, or kExitOther.
int CallFailure(absl::string_view address, absl::string_view call, const grpc::Status& rpc,
                absl::string_view unavailable_hint);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_CHANNEL_H_
