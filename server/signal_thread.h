// SignalThread: takes SIGINT and SIGTERM with sigwait(3) on its own thread
// and turns them into stop requests. Internal to server/.
//
// Blocking the signals in the constructor's thread (before gRPC starts its
// threads, which inherit the mask) keeps them away from every other thread,
// so no code runs in a signal handler. SIGINT is left alone if the process
// started with it ignored.
//
//   SignalThread signals(&lifecycle, options);  // before any other thread
#ifndef FIXTURE_SERVER_SIGNAL_THREAD_H_
#define FIXTURE_SERVER_SIGNAL_THREAD_H_

#include <signal.h>

#include <atomic>
#include <thread>

#include "server/lifecycle.h"
#include "server/server.h"

namespace fixture::server {

class SignalThread {
 public:
  SignalThread(Lifecycle* lifecycle, const RunOptions& options);
  // The signals stay blocked: the process is on its way out, and a late
  // SIGINT or SIGTERM must not turn a clean exit into death by signal.
  ~SignalThread();

 private:
  sigset_t signals_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_SIGNAL_THREAD_H_
