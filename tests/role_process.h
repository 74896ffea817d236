// RoleProcess: a test binary that acts as its own helper process, in the
// spirit of GoogleTest death tests and Chromium's multiprocess tests.
//
// The test spawns /proc/self/exe with FIXTURE_TEST_ROLE=<role>; that copy's
// main() sees the variable and plays the role (say, a "test process" that
// starts fixtures, prints their pids and waits to be killed) instead of
// running the tests. posix_spawn is vfork+exec, so spawning is safe in a
// process that runs gRPC threads.
//
//   int main(int argc, char** argv) {
//     if (const char* role = RoleOfThisProcess()) return PlayRole(role);
//     ...
//   }
//   absl::StatusOr<RoleProcess> p = SpawnRole("parent");
//   absl::StatusOr<std::string> line = ReadLine(p->from_stdout.get(), deadline);
//   absl::StatusOr<ExitInfo> ended = WaitForRole(*p);
#ifndef FIXTURE_TESTS_ROLE_PROCESS_H_
#define FIXTURE_TESTS_ROLE_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/unique_fd.h"

namespace fixture::testing {

inline constexpr char kRoleEnv[] = "FIXTURE_TEST_ROLE";

// The role this process was spawned to play, or nullptr for the test itself.
const char* RoleOfThisProcess();

// A running copy of this binary in a role.
struct RoleProcess {
  pid_t pid = -1;
  UniqueFd to_stdin;     // Its stdin; closing it gives the role EOF.
  UniqueFd from_stdout;  // Its stdout.
};

// Spawns this binary with FIXTURE_TEST_ROLE=`role` and `extra_env`
// ("NAME=value" entries) added to this process's environment, and the
// variables named in `unset_env` taken out of it; the errno text of pipe2 or
// posix_spawn on failure.
absl::StatusOr<RoleProcess> SpawnRole(absl::string_view role, const std::vector<std::string>& extra_env = {},
                                      const std::vector<std::string>& unset_env = {});

// One line (without the newline) from `fd`, waiting with poll(2) until
// `deadline`: DeadlineExceeded then, Unavailable at EOF, with what was read.
absl::StatusOr<std::string> ReadLine(int fd, absl::Time deadline);

// Waits for the role process to exit and reaps it: how it ended, or the errno
// text of waitpid(2).
absl::StatusOr<ExitInfo> WaitForRole(const RoleProcess& process);

}  // namespace fixture::testing

#endif  // FIXTURE_TESTS_ROLE_PROCESS_H_
