#include "tests/role_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace fixture::testing {

const char* RoleOfThisProcess() { return getenv(kRoleEnv); }

absl::StatusOr<RoleProcess> SpawnRole(absl::string_view role, const std::vector<std::string>& extra_env) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return absl::ErrnoToStatus(errno, "pipe2");
  }
  UniqueFd child_in(in[0]), child_out(out[1]);
  RoleProcess process;
  process.to_stdin.reset(in[1]);
  process.from_stdout.reset(out[0]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, child_out.get(), STDOUT_FILENO);
  // Ours first: getenv() takes the first of a name; inherited ones follow.
  std::vector<std::string> env = extra_env;
  env.push_back(absl::StrCat(kRoleEnv, "=", role));
  std::vector<std::string> overridden;
  for (const std::string& entry : env) overridden.push_back(entry.substr(0, entry.find('=') + 1));
  for (char** e = environ; *e != nullptr; ++e) {
    bool replaced = false;
    for (const std::string& name : overridden) replaced |= absl::StartsWith(*e, name);
    if (!replaced) env.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, nullptr};
  int error = posix_spawn(&process.pid, self, &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return absl::ErrnoToStatus(error, "posix_spawn(/proc/self/exe)");
  return process;
}

absl::StatusOr<std::string> ReadLine(int fd, absl::Time deadline) {
  std::string line;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int timeout_ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    int ready = poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return absl::ErrnoToStatus(errno, "poll");
    if (ready == 0) {
      return absl::DeadlineExceededError(absl::StrCat("no full line by the deadline; got \"", line, "\""));
    }
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read");
    if (n == 0) return absl::UnavailableError(absl::StrCat("EOF after \"", line, "\""));
    if (c == '\n') return line;
    line.push_back(c);
  }
}

int WaitForRole(const RoleProcess& process) {
  int status = 0;
  while (waitpid(process.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace fixture::testing
