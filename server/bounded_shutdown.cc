#include "fixture/server/bounded_shutdown.h"

#include <algorithm>
#include <thread>

#include "absl/synchronization/notification.h"
#include "grpc/grpc.h"

namespace fixture::server {
namespace {

// How often a stop waiting for in-flight calls looks whether a later stop
// request brought its deadline forward.
constexpr absl::Duration kStopDeadlineRecheck = absl::Milliseconds(20);

}  // namespace

absl::Time AwaitCallsDone(const CallCounter& calls, absl::Time deadline, const Lifecycle* stop_requests) {
  absl::Time until = deadline;
  for (;;) {
    if (stop_requests != nullptr) until = std::min(until, stop_requests->AwaitStopRequest());
    absl::Time wake = stop_requests != nullptr ? std::min(until, absl::Now() + kStopDeadlineRecheck) : until;
    if (calls.AwaitIdle(wake) || absl::Now() >= until) return until;
  }
}

void BoundedShutdown(grpc::Server* server, const CallCounter& calls, absl::Time deadline, bool linger,
                     const Lifecycle* stop_requests) {
  // The ending calls' last frames go out before the GOAWAY, so that a client
  // acks its ping having read them.
  if (linger) AwaitCallsDone(calls, deadline, stop_requests);
  absl::Notification done;
  std::thread shutdown([&] {
    server->Shutdown(absl::ToChronoTime(deadline));
    done.Notify();
  });
  absl::Time until = AwaitCallsDone(calls, deadline, stop_requests);
  if (linger) done.WaitForNotificationWithDeadline(until);
  // Repeat in case the first cancel ran before Shutdown had sent its GOAWAY
  // and a client connected again in between; bounded by the deadline.
  do {
    grpc_server_cancel_all_calls(server->c_server());
  } while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(20)) && absl::Now() < until);
  shutdown.join();
  server->Wait();
}

}  // namespace fixture::server
