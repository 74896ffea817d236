#include "fixture/server/lifecycle.h"

#include <algorithm>

namespace fixture::server {

Lifecycle::Lifecycle() : start_time_(absl::Now()) { history_.push_back({v1::STARTING, start_time_}); }

v1::State Lifecycle::state() const {
  absl::MutexLock lock(&mu_);
  return history_.back().state;
}

bool Lifecycle::Advance(v1::State next) {
  absl::MutexLock lock(&mu_);
  if (next <= history_.back().state) return false;
  history_.push_back({next, absl::Now()});
  return true;
}

v1::State Lifecycle::AwaitAtLeast(v1::State target, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return history_.back().state >= target; };
  mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
  return history_.back().state;
}

std::vector<Lifecycle::Transition> Lifecycle::AwaitHistory(size_t seen, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return history_.size() > seen; };
  mu_.AwaitWithDeadline(absl::Condition(&changed), deadline);
  if (history_.size() <= seen) return {};
  return std::vector<Transition>(history_.begin() + static_cast<std::ptrdiff_t>(seen), history_.end());
}

bool Lifecycle::RequestStop(absl::Duration grace, absl::Duration drain) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  // A server that never served has no clients to move away.
  if (history_.back().state == v1::STARTING) drain = absl::ZeroDuration();
  drain_end_ = std::min(drain_end_, now + drain);
  stop_deadline_ = std::min(stop_deadline_, now + drain + grace);
  if (stop_requested_) return false;
  stop_requested_ = true;
  v1::State state = history_.back().state;
  v1::State next = state == v1::STARTING ? v1::STOPPING : v1::DRAINING;
  if (next > state) history_.push_back({next, now});
  // Under the lock: no wait for the stop returns before they have run.
  for (const std::function<void()>& listener : stop_listeners_) listener();
  stop_listeners_.clear();
  return true;
}

void Lifecycle::OnStopRequest(std::function<void()> listener) {
  absl::MutexLock lock(&mu_);
  if (!stop_requested_) stop_listeners_.push_back(std::move(listener));
}

absl::Time Lifecycle::AwaitStopRequest() const {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&stop_requested_));
  return stop_deadline_;
}

absl::Time Lifecycle::AwaitDrainEnd() const {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&stop_requested_));
  // Until the end passes; a later request that moves it wakes the wait.
  for (;;) {
    const absl::Time end = drain_end_;
    auto moved = [this, end]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return drain_end_ != end; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&moved), end)) return stop_deadline_;
  }
}

}  // namespace fixture::server
