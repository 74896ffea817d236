// SignalThread: takes SIGINT and SIGTERM on a thread of its own and turns
// them into stop requests. Internal to server/.
//
// Two ways to take them, and in neither does the stop run in a signal handler:
//   - Delivery::kSigwait (Run(), whose process is the library's from the start
//     of main()): the signals are blocked in the constructor's thread before
//     gRPC starts its threads, which inherit the mask, and taken by
//     sigwait(3). No handler at all.
//   - Delivery::kHandler (AttachAndStart(), in a server's own main(), whose
//     threads run already and would take a blocked-elsewhere signal with its
//     default action, death): a handler that only writes the signal number
//     to a pipe (async-signal-safe), which the thread reads. A handler the
//     process had for them is replaced; only one kHandler SignalThread may
//     exist at a time.
// SIGINT is left alone if the process had it ignored when the SignalThread
// was made.
//
//   SignalThread signals(&lifecycle, options, SignalThread::Delivery::kSigwait);  // before any other thread
#ifndef FIXTURE_SERVER_SIGNAL_THREAD_H_
#define FIXTURE_SERVER_SIGNAL_THREAD_H_

#include <signal.h>

#include <atomic>
#include <thread>

#include "fixture/launch/unique_fd.h"
#include "fixture/server/lifecycle.h"
#include "fixture/server/server.h"

namespace fixture::server {

class SignalThread {
 public:
  enum class Delivery { kSigwait, kHandler };

  SignalThread(Lifecycle* lifecycle, const RunOptions& options, Delivery delivery = Delivery::kSigwait);
  // The process is on its way out, and a late SIGINT or SIGTERM must not turn
  // a clean exit into death by signal: with kSigwait the signals stay
  // blocked, with kHandler they are ignored from now on.
  ~SignalThread();

  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  // One stop request for `signal`, logged.
  static void Stop(Lifecycle* lifecycle, const RunOptions& options, int signal);

  const Delivery delivery_;
  sigset_t signals_;
  std::atomic<bool> done_{false};
  // kHandler: the pipe the handler writes the signal numbers to.
  UniqueFd wake_read_;
  UniqueFd wake_write_;
  std::thread thread_;
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_SIGNAL_THREAD_H_
