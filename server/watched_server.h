// WatchedServer: a grpc::Server this library did not build and does not own
// (the one a server's own main() built, server/attach.h), shut down only
// while it exists. Internal to server/.
//
// Its owner may destroy it at any moment, typically right after its Wait()
// returned. Watch() puts a plugin on the builder that gives the server a
// service without methods, which the server keeps (in its ServerInitializer)
// until its destructor: after the destructor's body, before the server's
// mutex is destroyed. That service's destructor waits for a Shutdown() in
// progress, makes later ones no-ops and calls `on_gone`.
//
// Shutdown() is the one call made on the server: it holds the server's own
// mutex throughout, which the destructor's body takes too, so it is safe
// while that body runs; nothing that body destroys unlocked is touched.
//
//   std::shared_ptr<WatchedServer> watched = WatchedServer::Watch(builder, [&] { OnGone(); });
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   watched->Set(server.get());
//   ... on another thread:
//   watched->Shutdown(absl::Now());  // no-op if the owner destroyed it
#ifndef FIXTURE_SERVER_WATCHED_SERVER_H_
#define FIXTURE_SERVER_WATCHED_SERVER_H_

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace fixture::server {

class WatchedServer : public std::enable_shared_from_this<WatchedServer> {
 public:
  // Watches the next server `builder` builds. `on_gone` runs once, on the
  // thread that destroys that server (or the builder, if it never built
  // one), unless Forget() came first.
  static std::shared_ptr<WatchedServer> Watch(grpc::ServerBuilder& builder, std::function<void()> on_gone);

  // The server the builder built (BuildAndStart's result; null: none).
  void Set(grpc::Server* server);

  // server->Shutdown(deadline) if the server was Set() and still exists;
  // returns once that Shutdown returned (so the owner's Wait() returns), or
  // at once when there is no server. True if it called Shutdown.
  bool Shutdown(absl::Time deadline);

  // on_gone will not run after this returns.
  void Forget();

  // Called by the server's destruction (the plugin's service).
  void Gone();

 private:
  WatchedServer() = default;

  absl::Mutex mu_;
  grpc::Server* server_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> on_gone_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_WATCHED_SERVER_H_
