#include "fixture/server/attach.h"

#include <stdlib.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "fixture/launch/protocol.h"
#include "fixture/proto/control.pb.h"
#include "fixture/server/bound_endpoints.h"
#include "fixture/server/bounded_shutdown.h"
#include "fixture/server/own_listening_sockets.h"
#include "fixture/server/server.h"
#include "server/builder_interceptors.h"
#include "server/fault_handlers.h"
#include "server/log.h"
#include "server/server_process.h"
#include "server/watched_server.h"

namespace fixture::server {
namespace {

// What AttachAndStart set up: the process's side of the launch protocol
// around the server's own builder, and the thread that stops that server.
class Attachment {
 public:
  explicit Attachment(const RunOptions& options) : process_(options, ServerProcess::Mode::kAttached) {}
  ~Attachment() { End(); }

  // Control socket, the counter and the watch on `builder`, BuildAndStart(),
  // the stopping thread, ready. Null (logged) if control or the server fails.
  std::unique_ptr<grpc::Server> Start(grpc::ServerBuilder& builder);

  // The process is exiting (or the server could not be built): a stop, if
  // none was asked for, then the stopping thread's end. Idempotent.
  void End();

 private:
  // The stopping thread: waits for a stop request, then stops the server
  // and the control socket.
  void StopServer();

  ServerProcess process_;
  std::shared_ptr<WatchedServer> watched_;
  std::thread stopper_;
};

std::unique_ptr<grpc::Server> Attachment::Start(grpc::ServerBuilder& builder) {
  const std::string& name = process_.options().name;
  if (!process_.StartControl()) return nullptr;
  AddInterceptorCreatorsFirst(builder, process_.counter()->Factories());
  FaultBuilderServices(builder, process_.faults());
  // The server's owner may destroy it without a stop from us (its own
  // shutdown): the fixture must see it end.
  watched_ = WatchedServer::Watch(builder, [this] { process_.lifecycle().RequestStop(absl::ZeroDuration()); });

  absl::StatusOr<std::vector<ListeningSocket>> before = OwnListeningSockets();
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    Log(name, "the server's BuildAndStart() failed (see gRPC's message above: address in use, bad address, ...)");
    return nullptr;
  }
  watched_->Set(server.get());
  absl::StatusOr<std::vector<ListeningSocket>> after = OwnListeningSockets();
  std::vector<v1::Endpoint> bound;
  if (before.ok() && after.ok()) {
    bound = BoundEndpoints(*before, *after);
  } else {
    Log(name, "cannot tell which ports the server bound, reporting none: %s",
        (before.ok() ? after.status() : before.status()).ToString());
  }
  stopper_ = std::thread([this] { StopServer(); });
  process_.Ready(bound);
  return server;
}

void Attachment::StopServer() {
  absl::Time deadline = process_.AwaitStop();
  AwaitCallsDone(*process_.counter(), deadline, &process_.lifecycle());
  // The calls are done, or their time is up: a Shutdown whose deadline has
  // passed sends the GOAWAY, cancels what is left and drops the connections
  // at once, and the server's Wait() in main() returns.
  watched_->Shutdown(absl::Now());
  process_.Finish();
}

void Attachment::End() {
  process_.lifecycle().RequestStop(absl::ZeroDuration());  // No-op if a stop came first (earliest deadline stands).
  if (stopper_.joinable()) stopper_.join();
  process_.Finish();
  if (watched_ != nullptr) watched_->Forget();
}

// The attachment of this process, ended by EndAtExit.
absl::Mutex g_mu;
Attachment* g_attachment ABSL_GUARDED_BY(g_mu) = nullptr;
// The first call attaches; later ones only build.
std::atomic<bool> g_claimed{false};

void EndAtExit() {
  Attachment* attachment = nullptr;
  {
    absl::MutexLock lock(&g_mu);
    attachment = std::exchange(g_attachment, nullptr);
  }
  delete attachment;  // Its End(): the control socket closes before exit goes on.
}

bool LaunchedByFixture() {
  return getenv(launch::kControlAddressEnv) != nullptr || getenv(launch::kReadyFdEnv) != nullptr;
}

}  // namespace

std::unique_ptr<grpc::Server> AttachAndStart(grpc::ServerBuilder& builder) {
  if (!LaunchedByFixture() || g_claimed.exchange(true)) return builder.BuildAndStart();
  absl::StatusOr<RunOptions> options = RunOptionsFromEnvironment();
  if (!options.ok()) {
    Log("", "bad launch environment, not starting the server: %s", options.status().ToString());
    return nullptr;
  }
  auto attachment = std::make_unique<Attachment>(*options);
  std::unique_ptr<grpc::Server> server = attachment->Start(builder);
  if (server == nullptr) return nullptr;  // ~Attachment ends what was started.
  {
    absl::MutexLock lock(&g_mu);
    g_attachment = attachment.release();
  }
  // Registered after gRPC's static state was made (the builder made it), so
  // it runs before that is destroyed.
  atexit(EndAtExit);
  return server;
}

}  // namespace fixture::server
