// BoundedShutdown: stops a grpc::Server within a deadline however its
// clients behave. Internal to server/ and the parent's control socket
// (fixture/parent_control.cc).
//
// Server::Shutdown sends GOAWAY at once (new calls are refused) but then waits for every
// connection to close, which a client holding its channel open only does
// after ~5 s, or until the deadline. So the shutdown runs on a thread while
// this one waits for the calls in flight; once they are done (or the deadline
// passed) the remaining calls are cancelled and the connections dropped,
// which lets Shutdown return at once.
//
// With `linger`, the GOAWAY waits until the calls are done (their last
// frames are then sent before it), and the connections get until the
// deadline to close gracefully (a client with a call open answers the GOAWAY's
// ping, having read all that came before it) before they are dropped. Dropping
// a connection right after a stream's last frames makes a client that is still
// reading and writing (flow-control updates) fail with UNAVAILABLE "Broken pipe"
// and lose the last message and the OK status.
//
// With `stop_requests`, a later stop request that brings the stop deadline
// forward (the earliest one stands, proto/control.proto) ends the wait for the
// calls in flight at the new deadline: it is looked at again every
// kStopDeadlineRecheck.
//
// AwaitCallsDone is that wait alone, for a server that is not ours to shut
// down this way (server/attach.h): once it returns, one Shutdown with a
// deadline that has passed sends the GOAWAY, cancels what is left and drops
// the connections.
//
//   BoundedShutdown(server.get(), calls, absl::Now() + grace);
#ifndef FIXTURE_SERVER_BOUNDED_SHUTDOWN_H_
#define FIXTURE_SERVER_BOUNDED_SHUTDOWN_H_

#include "absl/time/time.h"
#include "fixture/server/call_counter.h"
#include "fixture/server/lifecycle.h"
#include "grpcpp/server.h"

namespace fixture::server {

// Shuts `server` down: new calls refused at once, the calls in flight (as
// `calls` counts them) given until `deadline`, then cancelled and every
// connection dropped. Returns once the server is shut down and Wait() has
// returned.
void BoundedShutdown(grpc::Server* server, const CallCounter& calls, absl::Time deadline, bool linger = false,
                     const Lifecycle* stop_requests = nullptr);

// Blocks until `calls` has no call in flight or the deadline passes: `deadline`,
// or an earlier one a later stop request in `stop_requests` (if not null) asked
// for. Returns that deadline.
absl::Time AwaitCallsDone(const CallCounter& calls, absl::Time deadline, const Lifecycle* stop_requests = nullptr);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_BOUNDED_SHUTDOWN_H_
