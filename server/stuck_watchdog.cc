#include "server/stuck_watchdog.h"

#include <unistd.h>

#include "server/log.h"

namespace fixture::server {

StuckWatchdog::StuckWatchdog(Lifecycle* lifecycle, const RunOptions& options) {
  thread_ = std::thread([this, lifecycle, options] {
    absl::Time stop_deadline = lifecycle->AwaitStopRequest();
    if (done_.WaitForNotificationWithDeadline(stop_deadline + options.stuck_timeout)) return;
    Log(options.name, "still running %s after the stop deadline (state %s): exiting with status %d",
        absl::FormatDuration(options.stuck_timeout), v1::State_Name(lifecycle->state()), kExitStuck);
    _exit(kExitStuck);
  });
}

StuckWatchdog::~StuckWatchdog() {
  done_.Notify();
  thread_.join();
}

}  // namespace fixture::server
