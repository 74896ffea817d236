// StuckWatchdog: forces the process out with kExitStuck if it is still
// running `stuck_timeout` after the stop deadline, the last line of defence
// against setup code or a handler that never returns. Internal to server/.
//
//   StuckWatchdog watchdog(&lifecycle, options);
//   ...
//   lifecycle.RequestStop(...);  // before the watchdog is destroyed
#ifndef FIXTURE_SERVER_STUCK_WATCHDOG_H_
#define FIXTURE_SERVER_STUCK_WATCHDOG_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "fixture/server/lifecycle.h"
#include "fixture/server/server.h"

namespace fixture::server {

class StuckWatchdog {
 public:
  StuckWatchdog(Lifecycle* lifecycle, const RunOptions& options);
  // Call only once a stop was requested (or the thread never wakes).
  ~StuckWatchdog();

 private:
  absl::Notification done_;
  std::thread thread_;
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_STUCK_WATCHDOG_H_
