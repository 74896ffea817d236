#include "tests/ports/spawned_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <regex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"

extern char** environ;

namespace fixture::testing {

absl::StatusOr<std::unique_ptr<SpawnedProcess>> SpawnedProcess::Start(const std::vector<std::string>& argv,
                                                                      pid_t process_group) {
  if (argv.empty()) return absl::InvalidArgumentError("SpawnedProcess::Start: empty argv");
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  if (process_group >= 0) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attributes, process_group);
  }
  posix_spawnattr_setflags(&attributes, flags);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int error = posix_spawn(&pid, argv[0].c_str(), &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) return ErrnoStatus(error, absl::StrCat("posix_spawn(", argv[0], ")"));
  return std::unique_ptr<SpawnedProcess>(new SpawnedProcess(pid, std::move(read_end)));
}

SpawnedProcess::~SpawnedProcess() {
  if (!reaped_) (void)KillAndReap(pid_);
}

absl::StatusOr<std::vector<std::string>> SpawnedProcess::AwaitOutput(const std::string& regex, absl::Time deadline) {
  std::regex pattern(regex);
  for (;;) {
    // Complete lines not yet matched against.
    for (size_t end; (end = output_.find('\n', scanned_)) != std::string::npos; scanned_ = end + 1) {
      std::string line = output_.substr(scanned_, end - scanned_);
      std::smatch match;
      if (std::regex_search(line, match, pattern)) {
        scanned_ = end + 1;
        std::vector<std::string> groups{line};
        for (size_t i = 1; i < match.size(); ++i) groups.push_back(match[i].str());
        return groups;
      }
    }
    absl::StatusOr<bool> readable = PollReadable(output_fd_.get(), deadline, "output of the spawned process");
    if (!readable.ok()) return readable.status();
    if (!*readable) {
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid_, " wrote no line matching /", regex, "/; its output so far:\n", output_));
    }
    char buffer[4096];
    ssize_t n = read(output_fd_.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read(output of the spawned process)");
    if (n == 0) {
      return absl::FailedPreconditionError(absl::StrCat("pid ", pid_, " closed its output before a line matching /",
                                                        regex, "/; its output:\n", output_));
    }
    output_.append(buffer, static_cast<size_t>(n));
  }
}

absl::StatusOr<ExitInfo> SpawnedProcess::AwaitExit(absl::Time deadline) {
  if (reaped_) return absl::FailedPreconditionError(absl::StrCat("pid ", pid_, " was reaped already"));
  for (;;) {
    absl::StatusOr<bool> readable = PollReadable(output_fd_.get(), deadline, "output of the spawned process");
    if (!readable.ok()) return readable.status();
    if (!*readable) {
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid_, " did not exit in time; its output so far:\n", output_));
    }
    char buffer[4096];
    ssize_t n = read(output_fd_.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read(output of the spawned process)");
    if (n == 0) break;
    output_.append(buffer, static_cast<size_t>(n));
  }
  UniqueFd pidfd = OpenPidfd(pid_);
  if (!pidfd) return ErrnoStatus(errno, absl::StrCat("pidfd_open(", pid_, ")"));
  absl::StatusOr<bool> exited = PollReadable(pidfd.get(), deadline, "pidfd");
  if (!exited.ok()) return exited.status();
  if (!*exited) {
    return absl::DeadlineExceededError(absl::StrCat("pid ", pid_, " closed its output but did not exit in time"));
  }
  reaped_ = true;
  return Reap(pid_);
}

absl::StatusOr<ExitInfo> SpawnedProcess::Stop(int signal, absl::Duration timeout) {
  if (reaped_) return absl::FailedPreconditionError(absl::StrCat("pid ", pid_, " was stopped already"));
  UniqueFd pidfd = OpenPidfd(pid_);
  if (!pidfd) return ErrnoStatus(errno, absl::StrCat("pidfd_open(", pid_, ")"));
  if (SendSignal(pidfd.get(), signal) != 0) return ErrnoStatus(errno, absl::StrCat("pidfd_send_signal(", pid_, ")"));
  absl::StatusOr<bool> exited = PollReadable(pidfd.get(), absl::Now() + timeout, "pidfd");
  if (!exited.ok()) return exited.status();
  if (!*exited) {
    reaped_ = true;
    (void)KillAndReap(pid_);
    return absl::DeadlineExceededError(absl::StrCat("pid ", pid_, " still ran ", absl::FormatDuration(timeout),
                                                    " after ", SignalName(signal), "; killed"));
  }
  reaped_ = true;
  return Reap(pid_);
}

}  // namespace fixture::testing
