// Unix socket paths: the limits gRPC puts on them and the private directory's
// name, shared by the parent that creates the directory and the server that
// removes its socket there.
//
//   std::string path = UnixSocketPath("unix:/tmp/fixture-Ab12Cd/control.sock");
//   // -> "/tmp/fixture-Ab12Cd/control.sock"; "" for "127.0.0.1:80"
#ifndef FIXTURE_LAUNCH_SOCKET_PATH_H_
#define FIXTURE_LAUNCH_SOCKET_PATH_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

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

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_SOCKET_PATH_H_
