// SignalWatch: the signals `fixturectl run` acts on, read from a signalfd.
//
// fixturectl stops the servers (and CMD) itself, so it must not die of the
// signals that ask it to end: SIGINT, SIGTERM, SIGHUP and SIGQUIT (the "stop
// signals") are blocked and read from a signalfd by the main thread's poll
// loop instead, with SIGCHLD (a child exited, or an orphan fixturectl adopted
// as child subreaper did). Create it before any thread starts, so that every
// thread inherits the mask (children get a clean one: launch/forked_child.h).
//
//   SignalWatch signals;                  // first thing, before any thread
//   poll({signals.fd(), ...});
//   SignalWatch::Pending got = signals.Read();
//   if (got.stop != 0) ...                // e.g. SIGTERM
#ifndef FIXTURE_TOOLS_FIXTURECTL_SIGNALS_H_
#define FIXTURE_TOOLS_FIXTURECTL_SIGNALS_H_

#include <signal.h>

#include <vector>

#include "absl/status/status.h"
#include "fixture/launch/unique_fd.h"

namespace fixturectl {

class SignalWatch {
 public:
  // Blocks the stop signals and SIGCHLD in the calling thread and opens the
  // signalfd (status() says if that failed). Sets SIGCHLD's disposition to
  // the default: inherited as ignored, it would make the kernel reap the
  // children itself, and the toolkit's waitpid(2) would fail.
  SignalWatch();
  // Discards the signals still pending (they came once fixturectl was
  // stopping everything anyway) and restores the signal mask.
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // OK, or the errno text of signalfd(2).
  const absl::Status& status() const { return status_; }
  // Polls readable while a signal is pending; -1 if signalfd(2) failed.
  int fd() const { return fd_.get(); }

  // The signals read by one Read().
  struct Pending {
    // The stop signals, in the order they came.
    std::vector<int> stops;
    // A SIGCHLD came: some child (maybe an adopted orphan) changed state.
    bool child = false;
  };
  // Reads every pending signal, without blocking.
  Pending Read();

  // True for SIGINT, SIGTERM, SIGHUP and SIGQUIT.
  static bool IsStopSignal(int signal);

 private:
  sigset_t saved_mask_;
  fixture::UniqueFd fd_;
  absl::Status status_;
};

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_SIGNALS_H_
