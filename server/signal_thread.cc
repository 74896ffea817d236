#include "server/signal_thread.h"

#include <pthread.h>
#include <string.h>

#include "server/log.h"

namespace fixture::server {

SignalThread::SignalThread(Lifecycle* lifecycle, const RunOptions& options) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  struct sigaction current;
  if (sigaction(SIGINT, nullptr, &current) == 0 && current.sa_handler != SIG_IGN) sigaddset(&signals_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  thread_ = std::thread([this, lifecycle, options] {
    for (;;) {
      int signal = 0;
      if (sigwait(&signals_, &signal) != 0) continue;
      if (done_.load()) return;
      bool first = lifecycle->RequestStop(options.signal_grace);
      Log(options.name, "SIG%s received: %s (grace %s)", sigabbrev_np(signal) ? sigabbrev_np(signal) : "?",
          first ? "stopping" : "already stopping", absl::FormatDuration(options.signal_grace));
    }
  });
}

SignalThread::~SignalThread() {
  done_.store(true);
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

}  // namespace fixture::server
