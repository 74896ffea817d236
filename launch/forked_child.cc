#include "fixture/launch/forked_child.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fixture/launch/protocol.h"

namespace fixture {
namespace {

// Descriptors at or above this number are safe from the dup2() targets
// (stdio, the readiness pipe and up to 5 listening sockets; more move the
// spare range up).
constexpr int kFirstSpareFd = 10;

// `value` in decimal, NUL-terminated, into `out` (room for kPidDigits + 1).
void WriteDecimal(pid_t value, char* out) {
  char digits[kPidDigits];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && count < kPidDigits);
  for (int i = 0; i < count; ++i) out[i] = digits[count - 1 - i];
  out[count] = '\0';
}

}  // namespace

int ReadyFdNumber(const ChildSlate& slate) {
  return slate.listen_fd_count > 0 ? kListenFdsStart + slate.listen_fd_count : launch::kReadyFd;
}

bool PrepareForkedChild(const ChildSlate& slate) {
  if (prctl(PR_SET_PDEATHSIG, kParentDeathSignal) != 0 || getppid() != slate.parent) return false;
  if (slate.own_process_group && setpgid(0, 0) != 0) return false;
  if (slate.listen_pid_value != nullptr) WriteDecimal(getpid(), slate.listen_pid_value);
  const ChildStdio& stdio = slate.stdio;
  const int ready_number = ReadyFdNumber(slate);
  const int spare = ready_number + 1 > kFirstSpareFd ? ready_number + 1 : kFirstSpareFd;
  // Lift every source above the target numbers first, so no dup2 clobbers one.
  int in = fcntl(stdio.in >= 0 ? stdio.in : slate.devnull, F_DUPFD, spare);
  int out = fcntl(stdio.out >= 0 ? stdio.out : slate.devnull, F_DUPFD, spare);
  int err = fcntl(stdio.err >= 0 ? stdio.err : slate.devnull, F_DUPFD, spare);
  int ready = stdio.ready >= 0 ? fcntl(stdio.ready, F_DUPFD, spare) : -1;
  if (in < 0 || out < 0 || err < 0 || (stdio.ready >= 0 && ready < 0)) return false;
  if (slate.listen_fd_count > kMaxListenFds) return false;
  int listen[kMaxListenFds];
  for (int i = 0; i < slate.listen_fd_count; ++i) {
    if ((listen[i] = fcntl(slate.listen_fds[i], F_DUPFD, spare)) < 0) return false;
  }
  for (int i = 0; i < slate.listen_fd_count; ++i) {
    if (dup2(listen[i], kListenFdsStart + i) < 0) return false;
  }
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) return false;
  if (ready >= 0 && dup2(ready, ready_number) < 0) return false;
  int first_closed = ready >= 0 ? ready_number + 1 : kListenFdsStart + slate.listen_fd_count;
  if (syscall(SYS_close_range, first_closed, ~0U, 0) != 0) {
    for (int fd = first_closed; fd < 1024; ++fd) close(fd);
  }
  struct sigaction default_action;
  memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &default_action, nullptr);
  }
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, slate.signal_mask != nullptr ? slate.signal_mask : &empty, nullptr);
  return true;
}

}  // namespace fixture
