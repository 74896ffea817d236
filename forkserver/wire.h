// The fork server's wire: one protobuf message per SOCK_SEQPACKET packet,
// descriptors attached as SCM_RIGHTS (forkserver/fork_server.proto). Used by
// the helper and by the parent's client (fixture/fork_server_client.h).
//
//   SendMessage(sock, request, {ready_fd, stdout_fd, stderr_fd});
//   absl::StatusOr<bool> got = ReceiveMessage(sock, &bytes, &fds);  // false: EOF
#ifndef FIXTURE_FORKSERVER_WIRE_H_
#define FIXTURE_FORKSERVER_WIRE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fixture/forkserver/fork_server.pb.h"
#include "fixture/launch/environment.h"
#include "fixture/launch/unique_fd.h"
#include "google/protobuf/message_lite.h"

namespace fixture::forkserver {

// Largest message on the socketpair (a ForkRequest with its arguments).
inline constexpr size_t kMaxMessage = 64 * 1024;
// Descriptors that travel with a request: readiness pipe, stdout, stderr.
inline constexpr int kRequestFds = 3;

// Sends `message` with `fds` attached (at most kRequestFds). Errno text on
// failure.
absl::Status SendMessage(int sock, const google::protobuf::MessageLite& message, const std::vector<int>& fds);

// Receives one message and its descriptors (close-on-exec). Returns false at
// EOF; ResourceExhausted for a message cut short; the errno text on failure.
absl::StatusOr<bool> ReceiveMessage(int sock, std::string* bytes, std::vector<UniqueFd>* fds);

// A ForkRequest's environment fields from `change`, and back.
void SetEnvironment(const EnvironmentChange& change, internal::ForkRequest* request);
EnvironmentChange EnvironmentOf(const internal::ForkRequest& request);

}  // namespace fixture::forkserver

#endif  // FIXTURE_FORKSERVER_WIRE_H_
