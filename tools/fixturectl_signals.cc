#include "fixture/tools/fixturectl_signals.h"

#include <errno.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "fixture/launch/errno_status.h"

namespace fixturectl {
namespace {

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

}  // namespace

SignalWatch::SignalWatch() {
  signal(SIGCHLD, SIG_DFL);
  sigset_t watched;
  sigemptyset(&watched);
  for (int sig : kStopSignals) sigaddset(&watched, sig);
  sigaddset(&watched, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &watched, &saved_mask_);
  fd_.reset(signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd_) status_ = fixture::ErrnoStatus(errno, "signalfd()");
}

SignalWatch::~SignalWatch() {
  // A stop signal not read by now came once everything was stopped anyway:
  // it must not kill fixturectl on its way out (and change its exit status).
  Read();
  pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
}

SignalWatch::Pending SignalWatch::Read() {
  Pending pending;
  if (!fd_) return pending;
  struct signalfd_siginfo info;
  while (read(fd_.get(), &info, sizeof info) == sizeof info) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) {
      pending.child = true;
    } else {
      pending.stops.push_back(sig);
    }
  }
  return pending;
}

bool SignalWatch::IsStopSignal(int signal) {
  for (int sig : kStopSignals) {
    if (sig == signal) return true;
  }
  return false;
}

}  // namespace fixturectl
