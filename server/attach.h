// AttachAndStart: the launch protocol for a gRPC server that has its own
// main() and its own grpc::ServerBuilder.
//
// A fixture (fixture::Fixture with a fixture::Binary, `fixturectl run
// --server=...`, `fixture_test`) starts a server binary and waits, without
// polling, for the ReadyNotice on an inherited pipe; it then reads the
// server's status and stops it over the control socket (proto/launch.proto,
// proto/control.proto). A server built on server/'s Main()/Run() does all of
// that. An existing server, written the usual way, does it with two lines:
// this header, and AttachAndStart(builder) where it called
// builder.BuildAndStart().
//
//   #include "fixture/server/attach.h"  // fixture (1 of 2)
//
//   int main() {
//     KeyValueService kv;
//     int selected_port = 0;
//     grpc::ServerBuilder builder;
//     builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &selected_port);
//     builder.RegisterService(&kv);
//     std::unique_ptr<grpc::Server> server = fixture::server::AttachAndStart(builder);  // fixture (2 of 2)
//     if (server == nullptr) return 1;
//     std::cout << "listening on port " << selected_port << std::endl;
//     server->Wait();
//     return 0;
//   }
//
// Launched by a fixture (FIXTURE_CONTROL_ADDRESS or FIXTURE_READY_FD in the
// environment), AttachAndStart:
//   - serves fixture.v1.FixtureControl, grpc.health.v1.Health and server
//     reflection on the control socket, in state STARTING while the server is
//     built (the server under test is left as its code built it: no health
//     service is added to it);
//   - counts the server's calls per method (Status.method_calls), with an
//     interceptor put ahead of the server's own interceptors, which stay;
//   - lets the test inject faults (FixtureControl.InjectFault) into the
//     unary and server-streaming methods of the synchronous services
//     registered on the builder (server/fault_handlers.h: their method
//     handlers are wrapped; async and callback services are left alone);
//   - reports ready (state SERVING, the ReadyNotice) with the ports the
//     server really bound: the listening sockets this process gained during
//     BuildAndStart (each descriptor asked, server/own_listening_sockets.h),
//     so port 0, fixed ports, "localhost" (two sockets, one port) and Unix
//     sockets all come out right, with or without a `selected_port`. One endpoint is named "grpc"; several are
//     "grpc_PORT" (and "unix", or "unix_1", "unix_2", ... for Unix sockets).
//     A wildcard address is reported as the loopback address of its family
//     ("0.0.0.0:P" as "127.0.0.1:P", "[::]:P" as "[::1]:P"), an IPv4-mapped
//     one as IPv4 (gRPC listens on "127.0.0.1:0" as "[::ffff:127.0.0.1]:P");
//   - turns control Shutdown, SIGINT and SIGTERM into the server's own
//     bounded shutdown: the control socket's health goes NOT_SERVING, the
//     server goes on for the Shutdown's drain (none for a signal), then
//     the calls in flight get the grace (Shutdown's, or RunOptions' 200 ms
//     for a signal), then one server->Shutdown() with a deadline that has passed
//     refuses new calls, cancels what is left and drops the connections; so
//     the server->Wait() in main() returns and main() goes on as after any
//     Shutdown. Once the server is shut down the control socket moves to
//     STOPPING, closes and is removed;
//   - like a server on Run(): ignores SIGPIPE, stops gracefully when whoever
//     started the process has exited (seen on a pidfd, server/parent_watch.h;
//     SIGTERM by PR_SET_PDEATHSIG only where that cannot be set up), and when
//     it exits after that, ends the rest of its process group;
//   - forces the process out with exit status 3 (kExitStuck) if it still
//     runs 2 s after the stop deadline (a handler that never returns, or a
//     main() that does not return once Wait() has).
// Outside a fixture (neither variable set) it is builder.BuildAndStart() and
// nothing else: no thread, no socket, no signal handler (but see the limits
// on reflection).
//
// Limits:
//   - One server per process is attached: the first call takes the launch
//     variables out of the environment (so processes the server starts do not
//     inherit them); later calls are plain BuildAndStart().
//   - Under a fixture SIGINT and SIGTERM belong to AttachAndStart: a handler
//     the server installed before is replaced (SIGINT is left alone if it was
//     ignored). A handler it installs after replaces AttachAndStart's; its
//     own shutdown path still works (the fixture sees the server end once the
//     server is destroyed or the process exits), but a fixture's signal then
//     gets the server's behaviour, not this one.
//   - A call that arrives after the stop request and before the calls in
//     flight are done is still served (Run()'s endpoints refuse it at once):
//     the server is not this library's to shut down in two steps.
//   - Linking //server links gRPC's grpc++_reflection, which turns server
//     reflection on for every server the process builds, with a fixture or
//     without: gRPC's own behaviour for a binary that links it (its static
//     initialiser registers the plugin), not something AttachAndStart does.
//   - The ports are the sockets that appeared while BuildAndStart ran: a
//     socket another thread of the process starts listening on at that very
//     moment would be reported too.
#ifndef FIXTURE_SERVER_ATTACH_H_
#define FIXTURE_SERVER_ATTACH_H_

#include <memory>

#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace fixture::server {

// builder.BuildAndStart(), attached to the fixture that launched this
// process, if one did (see above). Call it once the builder is fully
// configured (after the server's own experimental().SetInterceptorCreators(),
// which would drop the call counter), on the thread that will call
// server->Wait() or any other.
//
// Returns what BuildAndStart() returned. Under a fixture, also nullptr,
// without building the server, when the launch environment is malformed or
// the control socket cannot be served; each failure is logged on stderr
// (which a fixture quotes), and the process is expected to exit, as it would
// when BuildAndStart() fails: the fixture then reports that it exited before
// it was ready. The returned server is the caller's, as always: it may be
// shut down and destroyed whenever the caller likes (the fixture then sees
// the server stop).
std::unique_ptr<grpc::Server> AttachAndStart(grpc::ServerBuilder& builder);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_ATTACH_H_
