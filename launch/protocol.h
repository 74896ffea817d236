// The launch protocol between a parent and the server process it starts.
//
// proto/launch.proto is the specification; this is its C++ codec, shared by
// the parent (fixture::Fixture, fixturectl), the child (server/) and the
// fork-server helper. In short:
// the parent passes the control socket address and a pipe in the environment;
// the child writes one frame on the pipe when it is ready and keeps the pipe
// open until it exits; EOF before the frame means the child died first.
//
//   // child, once serving:
//   absl::Status s = launch::WriteReadyNotice(ready_fd, notice);
//   // parent:
//   absl::StatusOr<launch::Outcome> o = launch::AwaitReady(ready_fd, deadline);
//   if (o.ok() && o->kind == launch::Outcome::kReady) Use(o->notice);
#ifndef FIXTURE_LAUNCH_PROTOCOL_H_
#define FIXTURE_LAUNCH_PROTOCOL_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fixture/proto/launch.pb.h"

namespace fixture::launch {

// Environment variables the parent sets for the child.
inline constexpr char kControlAddressEnv[] = "FIXTURE_CONTROL_ADDRESS";
inline constexpr char kReadyFdEnv[] = "FIXTURE_READY_FD";
inline constexpr char kNameEnv[] = "FIXTURE_NAME";
// Set by Fixture::Restart(): the ports the last process bound for endpoints
// declared on TCP port 0, "grpc=41234,admin=41235", so that the new process
// binds them again and clients reconnect to the same address.
inline constexpr char kEndpointPortsEnv[] = "FIXTURE_ENDPOINT_PORTS";

// The descriptor number the readiness pipe gets in an exec'ed child.
inline constexpr int kReadyFd = 3;

// Frame tags.
inline constexpr char kReadyTag = 'R';
inline constexpr char kExecErrorTag = 'E';
// A frame starts with its tag and a 4-byte little-endian number (the body's
// length for 'R', the errno for 'E').
inline constexpr int kFrameHeaderSize = 1 + 4;
// Size of an exec-error frame: the header alone.
inline constexpr int kExecErrorFrameSize = kFrameHeaderSize;
// A ReadyNotice frame must fit in one atomic pipe write.
inline constexpr int kMaxFrameSize = 4096;

// Writes the ReadyNotice frame to `fd` in one write(2), retrying EINTR.
// InvalidArgument if the notice does not fit in kMaxFrameSize; the errno text
// of write(2) otherwise.
absl::Status WriteReadyNotice(int fd, const v1::ReadyNotice& notice);

// Fills `frame` with the exec-error frame for `error` (an errno value).
// Async-signal-safe: meant for a forked child whose execve(2) failed.
void EncodeExecError(int error, char frame[kExecErrorFrameSize]);

// What the parent learned from the readiness pipe.
struct Outcome {
  enum Kind {
    kReady,      // `notice` holds the child's ReadyNotice.
    kExecError,  // execve(2) failed in the child with `exec_errno`.
    kClosed,     // EOF before any frame: the child exited or closed the pipe.
    kExited,     // `exit_fd` polled readable first: the child exited (while
                 // something else, a descendant, may hold the pipe).
    kTimedOut,   // `deadline` passed first.
  };
  Kind kind = kClosed;
  v1::ReadyNotice notice;
  int exec_errno = 0;
};

// The value of FIXTURE_ENDPOINT_PORTS for `ports` (endpoint name -> port),
// and back. ParseEndpointPorts: InvalidArgument, quoting the text, for an
// entry that is not NAME=PORT with a port in 1..65535, or a name twice.
std::string EncodeEndpointPorts(const std::map<std::string, int>& ports);
absl::StatusOr<std::map<std::string, int>> ParseEndpointPorts(absl::string_view text);

// Reads one frame from the non-blocking or blocking descriptor `fd`, waiting
// with poll(2) until `deadline`, or until `exit_fd` (the child's pidfd; -1:
// none) polls readable: then what the pipe already holds decides (a frame
// written just before the exit still counts). Errors only for a failing
// read(2)/poll(2) (the call and errno text) or a malformed or truncated frame
// (DataLoss, with the bytes seen); every ordinary ending is an Outcome.
absl::StatusOr<Outcome> AwaitReady(int fd, absl::Time deadline, int exit_fd = -1);

}  // namespace fixture::launch

#endif  // FIXTURE_LAUNCH_PROTOCOL_H_
