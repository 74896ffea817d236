// Lifecycle: the state of a fixture server, STARTING -> SERVING -> DRAINING ->
// STOPPING, shared by the serving thread, the control service and the signal
// thread.
//
// States only move forward. Every transition is kept with its time, so a
// watcher that falls behind still sees each one in order. A stop request is
// separate from the state: it records the earliest end of the drain and the
// earliest stop deadline any requester asked for, and wakes the serving
// thread.
//
//   Lifecycle lifecycle;
//   lifecycle.Advance(v1::SERVING);
//   // control thread:
//   lifecycle.RequestStop(absl::Milliseconds(200), /*drain=*/absl::Seconds(2));
//   // serving thread:
//   lifecycle.AwaitStopRequest();                // health NOT_SERVING now
//   absl::Time deadline = lifecycle.AwaitDrainEnd();  // refuse new calls now
#ifndef FIXTURE_SERVER_LIFECYCLE_H_
#define FIXTURE_SERVER_LIFECYCLE_H_

#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fixture/proto/control.pb.h"

namespace fixture::server {

class Lifecycle {
 public:
  struct Transition {
    v1::State state;
    absl::Time time;
  };

  // Starts in STARTING, now.
  Lifecycle();

  v1::State state() const;
  // When the process started (entered STARTING).
  absl::Time start_time() const { return start_time_; }

  // Moves to `next` if it is later than the current state; returns whether
  // the state changed.
  bool Advance(v1::State next);

  // Blocks until the state is at least `target` or `deadline` passes; returns
  // the state then.
  v1::State AwaitAtLeast(v1::State target, absl::Time deadline) const;

  // Every transition after the first `seen`, blocking until there is one or
  // `deadline` passes (then the result is empty). The first entry of the
  // history is STARTING.
  std::vector<Transition> AwaitHistory(size_t seen, absl::Time deadline) const;

  // Asks the server to stop: it keeps accepting new RPCs for `drain`, then
  // refuses them and gives the RPCs in flight `grace`. A SERVING server moves
  // to DRAINING at once; a STARTING one to STOPPING (it will never serve, so
  // it has nothing to drain: its drain ends at once). Returns true for the
  // first request. Each request asks for an end of the drain (now +
  // `drain`) and a stop deadline (now + `drain` + `grace`); of each, the
  // earliest asked for stands, so a later request can only bring them
  // forward.
  bool RequestStop(absl::Duration grace, absl::Duration drain = absl::ZeroDuration());

  // Runs `listener` in the thread of the first RequestStop(), before that
  // call returns and before any wait for the stop (AwaitStopRequest,
  // AwaitDrainEnd, AwaitAtLeast) can: for what must hold from the first
  // moment of a stop, as health NOT_SERVING. It runs under this Lifecycle's
  // lock, so it must not call into it. Not run at all when a stop was
  // requested already: the caller's code after AwaitStopRequest() covers
  // that case.
  void OnStopRequest(std::function<void()> listener);

  // Blocks until a stop is requested; returns the stop deadline.
  absl::Time AwaitStopRequest() const;

  // Blocks until a stop is requested and its drain is over: the end of the
  // drain has passed, however later requests moved it. Returns the stop
  // deadline.
  absl::Time AwaitDrainEnd() const;

 private:
  const absl::Time start_time_;
  mutable absl::Mutex mu_;
  std::vector<Transition> history_ ABSL_GUARDED_BY(mu_);
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> stop_listeners_ ABSL_GUARDED_BY(mu_);
  absl::Time drain_end_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_LIFECYCLE_H_
