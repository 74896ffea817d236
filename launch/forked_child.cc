#include "launch/forked_child.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch/protocol.h"

namespace fixture {
namespace {

// Descriptors at or above this number are safe from the dup2() targets.
constexpr int kFirstSpareFd = 10;

}  // namespace

bool PrepareForkedChild(const ChildSlate& slate) {
  if (prctl(PR_SET_PDEATHSIG, kParentDeathSignal) != 0 || getppid() != slate.parent) return false;
  if (slate.own_process_group && setpgid(0, 0) != 0) return false;
  const ChildStdio& stdio = slate.stdio;
  // Lift every source above the target numbers first, so no dup2 clobbers one.
  int in = fcntl(stdio.in >= 0 ? stdio.in : slate.devnull, F_DUPFD, kFirstSpareFd);
  int out = fcntl(stdio.out >= 0 ? stdio.out : slate.devnull, F_DUPFD, kFirstSpareFd);
  int err = fcntl(stdio.err >= 0 ? stdio.err : slate.devnull, F_DUPFD, kFirstSpareFd);
  int ready = stdio.ready >= 0 ? fcntl(stdio.ready, F_DUPFD, kFirstSpareFd) : -1;
  if (in < 0 || out < 0 || err < 0 || (stdio.ready >= 0 && ready < 0)) return false;
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) return false;
  if (ready >= 0 && dup2(ready, launch::kReadyFd) < 0) return false;
  int first_closed = ready >= 0 ? launch::kReadyFd + 1 : 3;
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
