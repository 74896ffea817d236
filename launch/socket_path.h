// Unix socket paths: the limits gRPC puts on them and the private directory's
// name, shared by the parent that creates the directory and the server that
// removes its socket there; and the one connect(2) to such a path.
//
//   std::string path = UnixSocketPath("unix:/tmp/fixture-Ab12Cd/control.sock");
//   // -> "/tmp/fixture-Ab12Cd/control.sock"; "" for "127.0.0.1:80"
#ifndef FIXTURE_LAUNCH_SOCKET_PATH_H_
#define FIXTURE_LAUNCH_SOCKET_PATH_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fixture/launch/unique_fd.h"

namespace fixture {

// Name prefix of every private socket directory (fixture/private_dir.h); the
// server library removes an empty directory with this prefix when it removes
// its socket.
inline constexpr char kPrivateDirPrefix[] = "fixture-";

// The longest Unix socket path gRPC accepts (sun_path is 108 bytes with the NUL).
inline constexpr size_t kMaxUnixSocketPath = 107;

// The file name of the control socket inside the private directory.
inline constexpr char kControlSocketName[] = "control.sock";

// The socket path of a "unix:" or "unix://" gRPC target, or "" for any other
// target.
std::string UnixSocketPath(absl::string_view target);

// A stream socket connected to the Unix socket at `path` (blocking,
// close-on-exec). InvalidArgument for a path over kMaxUnixSocketPath; the
// errno text of socket(2)/connect(2) with the path otherwise (ECONNREFUSED:
// nobody listens there; ENOENT: no socket).
absl::StatusOr<UniqueFd> ConnectUnix(absl::string_view path);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_SOCKET_PATH_H_
