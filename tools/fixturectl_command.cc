#include "fixture/tools/fixturectl_command.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fixture/fork_thread.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch_spec.h"
#include "fixture/tools/fixturectl_limits.h"

namespace fixturectl {
namespace {

// CMD's executable: as given if it has a '/', else searched in PATH; nullopt
// if there is none.
std::optional<std::string> FindCommand(const std::string& command) {
  if (command.find('/') != std::string::npos) {
    return access(command.c_str(), X_OK) == 0 ? std::optional<std::string>(command) : std::nullopt;
  }
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", command);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

// `fd` if it is open, else -1 (the child gets /dev/null there).
int IfOpen(int fd) { return fcntl(fd, F_GETFD) >= 0 ? fd : -1; }

// True when stdin is a terminal and this process is in its foreground
// process group: then CMD's group must be, or it stops at its first read.
bool HoldsTerminal() { return isatty(0) == 1 && tcgetpgrp(0) == getpgrp(); }

// Makes `pgid` the terminal's foreground process group. SIGTTOU is blocked
// meanwhile: a process outside the foreground group (fixturectl, once CMD
// has the terminal) may then still do so.
void SetForeground(pid_t pgid) {
  sigset_t ttou, saved;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &ttou, &saved);
  tcsetpgrp(0, pgid);
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
}

void CloseRange(unsigned first, unsigned last) {
  if (first > last) return;
  if (syscall(SYS_close_range, first, last, 0) == 0) return;
  for (unsigned fd = first; fd <= last && fd < 1024; ++fd) close(static_cast<int>(fd));
}

// Reads exactly `size` bytes from `fd` (EINTR retried); false on EOF or an
// error first. Async-signal-safe.
bool ReadFully(int fd, char* out, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, out + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// The watchdog, in a child forked from fixturectl: raw system calls only
// (fixturectl has threads). Reads CMD's pid from `arm` (0: there is no CMD),
// then waits: one more byte means CMD's run is over; EOF means fixturectl
// died, and CMD and its group get SIGKILL.
[[noreturn]] void Watch(int arm) {
  setpgid(0, 0);  // Out of fixturectl's group: a kill of that group must not end the watchdog too.
  if (arm > 0) CloseRange(0, static_cast<unsigned>(arm) - 1);
  CloseRange(static_cast<unsigned>(arm) + 1, ~0U);
  int32_t cmd = 0;
  if (!ReadFully(arm, reinterpret_cast<char*>(&cmd), sizeof cmd) || cmd <= 0) _exit(0);
  // CMD is at worst a zombie not yet reaped: its pid is still its own.
  int cmd_pidfd = static_cast<int>(syscall(SYS_pidfd_open, cmd, 0));
  prctl(PR_SET_NAME, "fixturectl-wd", 0, 0, 0);  // Armed.
  char byte;
  if (ReadFully(arm, &byte, 1)) _exit(0);
  if (cmd_pidfd >= 0) syscall(SYS_pidfd_send_signal, cmd_pidfd, SIGKILL, nullptr, 0);
  kill(-cmd, SIGKILL);
  _exit(0);
}

// Forks the watchdog (before CMD exists, so that it is there from CMD's
// first instant). Its pid and the write end of its pipe, or -1 and a warning
// on stderr.
pid_t StartWatchdog(const std::string& cmd_name, fixture::UniqueFd* arm) {
  auto warn = [&](const absl::Status& error) {
    std::string text(error.message());
    fprintf(stderr, "fixturectl: no watchdog for %s (%s%s): if fixturectl is killed, it may outlive fixturectl\n",
            cmd_name.c_str(), text.c_str(), ResourceAdvice(text).c_str());
    return -1;
  };
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return warn(fixture::ErrnoStatus(errno, "pipe2()"));
  fixture::UniqueFd read_end(fds[0]);
  arm->reset(fds[1]);
  pid_t watchdog = -1;
  int fork_errno = 0;
  absl::Status ran = fixture::RunOnForkThread([&] {
    watchdog = fork();
    if (watchdog == 0) Watch(read_end.get());
    fork_errno = errno;
  });
  if (!ran.ok()) {
    arm->reset();
    return warn(ran);
  }
  if (watchdog < 0) {
    arm->reset();
    return warn(fixture::ErrnoStatus(fork_errno, "fork()"));
  }
  return watchdog;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Command>> Command::Start(const std::vector<std::string>& words,
                                                        fixture::EnvironmentChange env) {
  std::optional<std::string> path = FindCommand(words[0]);
  if (!path.has_value()) return absl::NotFoundError(absl::StrCat(words[0], ": command not found"));
  fixture::LaunchSpec spec;
  spec.program = fixture::Binary{*path};
  spec.argv0 = words[0];
  spec.args.assign(words.begin() + 1, words.end());
  spec.env = std::move(env);
  spec.stdio.in = IfOpen(0);
  spec.stdio.out = IfOpen(1);
  spec.stdio.err = IfOpen(2);
  spec.own_process_group = true;
  const bool terminal = HoldsTerminal();
  std::unique_ptr<Command> cmd(new Command());
  cmd->watchdog_ = StartWatchdog(words[0], &cmd->watchdog_arm_);
  absl::StatusOr<fixture::ChildProcess> child = fixture::Launch(spec);
  // The watchdog learns CMD's pid at once (0: no CMD; it exits).
  const int32_t pid = child.ok() ? child->pid() : 0;
  if (cmd->watchdog_arm_ && write(cmd->watchdog_arm_.get(), &pid, sizeof pid) != sizeof pid) {
    fprintf(stderr, "fixturectl: the watchdog for %s did not get its pid: %s\n", words[0].c_str(), strerror(errno));
  }
  if (!child.ok()) {
    // ENOENT for a file that exists: the interpreter its #! line names does not.
    bool missing = absl::IsNotFound(child.status());
    std::string message(child.status().message());
    absl::Status error(
        child.status().code(),
        absl::StrCat("cannot run ", words[0], ": ", message,
                     missing ? " (is the interpreter on its #! line installed?)" : "", ResourceAdvice(message)));
    // The payload (EXEC_FAILED for an execve() that failed) decides the exit status.
    child.status().ForEachPayload(
        [&](absl::string_view url, const absl::Cord& payload) { error.SetPayload(url, payload); });
    return error;
  }
  cmd->process_ = *std::move(child);
  if (terminal) {
    SetForeground(pid);
    cmd->terminal_ = true;
    // It may have read the terminal before it was its own: stopped by
    // SIGTTIN, or about to be. SIGCONT continues it and discards a pending
    // stop signal (after the handover, no read makes a new one).
    kill(-pid, SIGCONT);
  }
  return cmd;
}

Command::~Command() {
  process_.Signal(SIGKILL).IgnoreError();
  process_.WaitUntil(absl::InfiniteFuture()).IgnoreError();
  Finish();
}

std::vector<pid_t> Command::pids() const {
  std::vector<pid_t> pids;
  if (process_.pidfd() >= 0) pids.push_back(process_.pid());
  if (watchdog_ > 0) pids.push_back(watchdog_);
  return pids;
}

void Command::Finish() {
  if (terminal_) {
    SetForeground(getpgrp());
    terminal_ = false;
  }
  if (watchdog_ > 0) {
    char disarm = 1;
    ssize_t ignored = write(watchdog_arm_.get(), &disarm, 1);
    (void)ignored;
    watchdog_arm_.reset();
    siginfo_t info;
    while (waitid(P_PID, static_cast<id_t>(watchdog_), &info, WEXITED) != 0 && errno == EINTR) {
    }
    watchdog_ = -1;
  }
}

}  // namespace fixturectl
