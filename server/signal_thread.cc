#include "server/signal_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "absl/time/time.h"
#include "fixture/launch/poll.h"
#include "server/log.h"

namespace fixture::server {
namespace {

// kHandler's pipe, for the handler: a lock-free atomic is async-signal-safe.
std::atomic<int> g_wake_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free);

// Writes the signal number to the pipe; all else happens on the thread.
extern "C" void OnStopSignal(int signal) {
  const int saved_errno = errno;
  const int fd = g_wake_fd.load();
  const unsigned char number = static_cast<unsigned char>(signal);
  if (fd >= 0) (void)!write(fd, &number, 1);
  errno = saved_errno;
}

}  // namespace

void SignalThread::Stop(Lifecycle* lifecycle, const RunOptions& options, int signal) {
  bool first = lifecycle->RequestStop(options.signal_grace);
  Log(options.name, "SIG%s received: %s (grace %s)", sigabbrev_np(signal) ? sigabbrev_np(signal) : "?",
      first ? "stopping" : "already stopping", absl::FormatDuration(options.signal_grace));
}

SignalThread::SignalThread(Lifecycle* lifecycle, const RunOptions& options, Delivery delivery) : delivery_(delivery) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  struct sigaction current;
  if (sigaction(SIGINT, nullptr, &current) == 0 && current.sa_handler != SIG_IGN) sigaddset(&signals_, SIGINT);
  if (delivery_ == Delivery::kSigwait) {
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this, lifecycle, options] {
      for (;;) {
        int signal = 0;
        if (sigwait(&signals_, &signal) != 0) continue;
        if (done_.load()) return;
        Stop(lifecycle, options, signal);
      }
    });
    return;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    Log(options.name, "pipe2() for the signal thread: %s; SIGINT and SIGTERM are left as they were", strerror(errno));
    return;
  }
  wake_read_.reset(fds[0]);
  wake_write_.reset(fds[1]);
  g_wake_fd.store(wake_write_.get());
  thread_ = std::thread([this, lifecycle, options] {
    for (;;) {
      absl::StatusOr<bool> readable = PollReadable(wake_read_.get(), absl::InfiniteFuture(), "signal pipe");
      if (!readable.ok()) {
        Log(options.name, "%s", readable.status().ToString());
        return;
      }
      unsigned char numbers[16];
      ssize_t n = read(wake_read_.get(), numbers, sizeof(numbers));
      for (ssize_t i = 0; i < n; ++i) {
        if (numbers[i] == 0) return;  // The destructor's wake-up.
        Stop(lifecycle, options, numbers[i]);
      }
    }
  });
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  action.sa_flags = SA_RESTART;  // The server's own system calls go on undisturbed.
  sigfillset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM}) {
    if (sigismember(&signals_, signal)) sigaction(signal, &action, nullptr);
  }
}

SignalThread::~SignalThread() {
  done_.store(true);
  if (delivery_ == Delivery::kSigwait) {
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
    return;
  }
  for (int signal : {SIGINT, SIGTERM}) {
    if (sigismember(&signals_, signal)) ::signal(signal, SIG_IGN);
  }
  g_wake_fd.store(-1);
  if (!thread_.joinable()) return;
  const unsigned char wake = 0;
  (void)!write(wake_write_.get(), &wake, 1);
  thread_.join();
}

}  // namespace fixture::server
