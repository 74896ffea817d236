#include "tests/role_process.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fixture/launch/environment.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"

extern char** environ;

namespace fixture::testing {

const char* RoleOfThisProcess() { return getenv(kRoleEnv); }

absl::StatusOr<RoleProcess> SpawnRole(absl::string_view role, const std::vector<std::string>& extra_env,
                                      const std::vector<std::string>& unset_env) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd child_in(in[0]);
  RoleProcess process;
  process.to_stdin.reset(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd child_out(out[1]);
  process.from_stdout.reset(out[0]);

  EnvironmentChange change;
  for (const std::string& entry : extra_env) {
    size_t equals = entry.find('=');
    if (equals == std::string::npos) return absl::InvalidArgumentError(absl::StrCat("not NAME=value: ", entry));
    change.set.emplace_back(entry.substr(0, equals), entry.substr(equals + 1));
  }
  change.set.emplace_back(kRoleEnv, std::string(role));
  change.unset = unset_env;
  std::vector<std::string> env = ChildEnvironment(environ, change);
  std::vector<char*> envp;
  for (std::string& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, child_out.get(), STDOUT_FILENO);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, nullptr};
  int error = posix_spawn(&process.pid, self, &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return ErrnoStatus(error, "posix_spawn(/proc/self/exe)");
  return process;
}

absl::StatusOr<std::string> ReadLine(int fd, absl::Time deadline) {
  std::string line;
  for (;;) {
    absl::StatusOr<bool> readable = PollReadable(fd, deadline, "the role's stdout");
    if (!readable.ok()) return readable.status();
    if (!*readable) {
      return absl::DeadlineExceededError(absl::StrCat("no full line by the deadline; got \"", line, "\""));
    }
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read");
    if (n == 0) return absl::UnavailableError(absl::StrCat("EOF after \"", line, "\""));
    if (c == '\n') return line;
    line.push_back(c);
  }
}

absl::StatusOr<ExitInfo> WaitForRole(const RoleProcess& process) { return Reap(process.pid); }

}  // namespace fixture::testing
