#include "fixture/tools/fixturectl_channel.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/grpc_status.h"
#include "fixture/launch/socket_path.h"
#include "fixture/tools/fixturectl_exit_codes.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace fixturectl {

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelTo(const std::string& address, absl::string_view flag,
                                                         absl::string_view example) {
  if (address.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, "=ADDR is required (e.g. ", example, ")"));
  std::string path = fixture::UnixSocketPath(address);
  if (path.empty() && absl::StartsWith(address, "unix:")) {
    return absl::UnavailableError(absl::StrCat("nobody listens on ", address, ": the socket path is empty"));
  }
  struct stat st;
  if (!path.empty() && stat(path.c_str(), &st) != 0) {
    int error = errno;
    return absl::UnavailableError(
        absl::StrCat("nobody listens on ", address, ": ", path, ": ", strerror(error), " (is the server running?)"));
  }
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

int CallFailure(absl::string_view address, absl::string_view call, const grpc::Status& rpc,
                absl::string_view unavailable_hint) {
  absl::Status status = fixture::FromGrpc(rpc, absl::StrCat(call, " on ", address, " failed"));
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return Fail(kExitUnavailable, absl::StrCat(status.message(), " (", unavailable_hint, ")"));
    case absl::StatusCode::kDeadlineExceeded:
      return Fail(kExitTimeout, status.message());
    default:
      return Fail(kExitOther, status.message());
  }
}

}  // namespace fixturectl
