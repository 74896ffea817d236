#include "tools/fixturectl_command.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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
#include "fixture/launch_spec.h"
#include "launch/errno_status.h"
#include "tools/fixturectl_limits.h"

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

// True if the child `pid` is stopped (by SIGTTIN, say); leaves that for
// waitpid to report.
bool IsStopped(pid_t pid) {
  siginfo_t info = {};
  return waitid(P_PID, static_cast<id_t>(pid), &info, WSTOPPED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid &&
         info.si_code == CLD_STOPPED;
}

void CloseRange(unsigned first, unsigned last) {
  if (first > last) return;
  if (syscall(SYS_close_range, first, last, 0) == 0) return;
  for (unsigned fd = first; fd <= last && fd < 1024; ++fd) close(static_cast<int>(fd));
}

// The watchdog, in a child forked from fixturectl: raw system calls only
// (fixturectl has threads). Waits until `arm` is readable: one byte means
// CMD's run is over; EOF means fixturectl died, and CMD's group gets SIGKILL.
[[noreturn]] void Watch(int arm, int cmd_pidfd, pid_t cmd) {
  setpgid(0, 0);  // Out of fixturectl's group: a kill of that group must not end the watchdog too.
  prctl(PR_SET_NAME, "fixturectl-wd", 0, 0, 0);
  const unsigned low = static_cast<unsigned>(std::min(arm, cmd_pidfd));
  const unsigned high = static_cast<unsigned>(std::max(arm, cmd_pidfd));
  if (low > 0) CloseRange(0, low - 1);
  CloseRange(low + 1, high - 1);
  CloseRange(high + 1, ~0U);
  char byte;
  ssize_t n;
  do {
    n = read(arm, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1) _exit(0);
  syscall(SYS_pidfd_send_signal, cmd_pidfd, SIGKILL, nullptr, 0);
  kill(-cmd, SIGKILL);
  _exit(0);
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
  absl::StatusOr<fixture::ChildProcess> child = fixture::Launch(spec);
  if (!child.ok()) {
    // ENOENT for a file that exists: the interpreter its #! line names does not.
    bool missing = absl::IsNotFound(child.status());
    std::string message(child.status().message());
    return absl::Status(child.status().code(),
                        absl::StrCat("cannot run ", words[0], ": ", message,
                                     missing ? " (is the interpreter on its #! line installed?)" : "",
                                     ResourceAdvice(message)));
  }
  std::unique_ptr<Command> cmd(new Command());
  cmd->process_ = *std::move(child);
  const pid_t pid = cmd->process_.pid();
  if (terminal) {
    SetForeground(pid);
    cmd->terminal_ = true;
    // It may have read the terminal before it was its own: stopped by SIGTTIN.
    if (IsStopped(pid)) kill(-pid, SIGCONT);
  }

  int arm[2];
  if (pipe2(arm, O_CLOEXEC) != 0) {
    std::string error(fixture::ErrnoStatus(errno, "pipe2()").message());
    fprintf(stderr, "fixturectl: no watchdog for %s (%s%s): if fixturectl is killed, it may outlive fixturectl\n",
            words[0].c_str(), error.c_str(), ResourceAdvice(error).c_str());
    return cmd;
  }
  fixture::UniqueFd arm_read(arm[0]);
  cmd->watchdog_arm_.reset(arm[1]);
  const int cmd_pidfd = cmd->process_.pidfd();
  pid_t watchdog = -1;
  int fork_errno = 0;
  fixture::RunOnForkThread([&] {
    watchdog = fork();
    if (watchdog == 0) Watch(arm_read.get(), cmd_pidfd, pid);
    fork_errno = errno;
  });
  if (watchdog < 0) {
    std::string error(fixture::ErrnoStatus(fork_errno, "fork()").message());
    fprintf(stderr, "fixturectl: no watchdog for %s (%s%s): if fixturectl is killed, it may outlive fixturectl\n",
            words[0].c_str(), error.c_str(), ResourceAdvice(error).c_str());
    cmd->watchdog_arm_.reset();
    return cmd;
  }
  cmd->watchdog_ = watchdog;
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
