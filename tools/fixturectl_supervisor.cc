#include "fixture/tools/fixturectl_supervisor.h"

#include <errno.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "fixture/grpc_status.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/private_dir.h"
#include "fixture/proto/supervisor.grpc.pb.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace fixturectl {
namespace {

namespace v1 = fixture::v1;
using fixture::Fixture;
using fixture::ToGrpc;

// How long the gRPC server's shutdown may wait for calls to end: each has
// been answered (or failed) by then, so only their last bytes are left.
constexpr absl::Duration kShutdownGrace = absl::Milliseconds(200);

}  // namespace

class Supervisor::Impl final : public v1::Supervisor::Service {
 public:
  Impl(fixture::PrivateDir dir, fixture::UniqueFd wake)
      : dir_(std::move(dir)), wake_(std::move(wake)), address_(absl::StrCat("unix:", dir_.File("supervisor.sock"))) {}

  absl::Status Serve() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address_, grpc::InsecureServerCredentials());
    builder.RegisterService(this);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 1);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot serve the supervisor socket on ", address_));
    }
    return absl::OkStatus();
  }

  grpc::Status Restart(grpc::ServerContext*, const v1::ServerRequest* request, v1::RestartResponse* response) override {
    return OnMainThread(request->name(), [&](Fixture& server) {
      const pid_t old_pid = server.pid();
      absl::StatusOr<fixture::StopResult> old = server.Restart();
      if (!old.ok()) {
        // The new process's start failed (its Failure is at stage START):
        // ABORTED, apart from a restart that did nothing.
        std::optional<v1::Failure> failure = fixture::FailureOf(old.status());
        if (failure.has_value() && failure->stage() == v1::Failure::START) {
          return grpc::Status(grpc::StatusCode::ABORTED, std::string(old.status().message()));
        }
        return ToGrpc(old.status());
      }
      kills_.erase(request->name());
      response->set_old_pid(old_pid);
      response->set_old_end(
          absl::StrCat(old->exit.ToString(), "; stopped by ", old->how(), " in ", absl::FormatDuration(old->duration)));
      response->set_pid(server.pid());
      for (const v1::Endpoint& endpoint : server.endpoints()) *response->add_endpoints() = endpoint;
      return grpc::Status::OK;
    });
  }

  grpc::Status Kill(grpc::ServerContext*, const v1::KillRequest* request, v1::ServerResponse* response) override {
    return OnMainThread(request->name(), [&](Fixture& server) {
      const int signal = request->signal() != 0 ? request->signal() : SIGKILL;
      if (absl::Status sent = server.Kill(signal); !sent.ok()) return ToGrpc(sent);
      kills_[request->name()].insert(signal);
      response->set_pid(server.pid());
      return grpc::Status::OK;
    });
  }

  grpc::Status Pause(grpc::ServerContext*, const v1::ServerRequest* request, v1::ServerResponse* response) override {
    return OnMainThread(request->name(), [&](Fixture& server) {
      if (absl::Status paused = server.Pause(); !paused.ok()) return ToGrpc(paused);
      response->set_pid(server.pid());
      return grpc::Status::OK;
    });
  }

  grpc::Status Resume(grpc::ServerContext*, const v1::ServerRequest* request, v1::ServerResponse* response) override {
    return OnMainThread(request->name(), [&](Fixture& server) {
      if (absl::Status resumed = server.Resume(); !resumed.ok()) return ToGrpc(resumed);
      response->set_pid(server.pid());
      return grpc::Status::OK;
    });
  }

  // On the main thread (Supervisor::Serve).
  void Serve(std::vector<Fixture>& fixtures) {
    uint64_t count;
    while (read(wake_.get(), &count, sizeof count) < 0 && errno == EINTR) {
    }
    std::deque<Call> calls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls.swap(queue_);
    }
    for (Call& call : calls) call.done.set_value(Carry(call, fixtures));
  }

  bool CausedExit(absl::string_view name, const fixture::ExitInfo& exit) const {
    auto sent = kills_.find(std::string(name));
    if (sent == kills_.end()) return false;
    return !exit.status_known || exit.success() || (exit.signaled && sent->second.count(exit.signal) > 0);
  }

  void Shutdown() {
    std::deque<Call> calls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
      calls.swap(queue_);
    }
    for (Call& call : calls) call.done.set_value(Closed());
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now() + kShutdownGrace));
    server_.reset();
  }

  ~Impl() override { Shutdown(); }

  const std::string& address() const { return address_; }
  int fd() const { return wake_.get(); }

 private:
  struct Call {
    std::string name;
    std::function<grpc::Status(Fixture&)> run;
    std::promise<grpc::Status> done;
  };

  static grpc::Status Closed() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "fixturectl run is stopping its servers: the command has ended, nothing more is supervised");
  }

  // Queues `run` for server `name`, wakes the main thread, and waits for
  // the answer (gRPC thread).
  grpc::Status OnMainThread(const std::string& name, std::function<grpc::Status(Fixture&)> run) {
    std::future<grpc::Status> answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return Closed();
      queue_.push_back(Call{name, std::move(run), {}});
      answer = queue_.back().done.get_future();
    }
    const uint64_t one = 1;
    while (write(wake_.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
    return answer.get();
  }

  // Runs one call on its server, found by name (main thread).
  grpc::Status Carry(Call& call, std::vector<Fixture>& fixtures) {
    std::vector<std::string> names;
    for (Fixture& server : fixtures) {
      if (server.name() == call.name) return call.run(server);
      names.push_back(server.name());
    }
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no server \"", call.name, "\" in this run; it has: ", absl::StrJoin(names, ", ")));
  }

  fixture::PrivateDir dir_;
  fixture::UniqueFd wake_;  // eventfd: calls are waiting
  const std::string address_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::deque<Call> queue_;
  bool closed_ = false;
  // Main thread only: the signals Kill sent to each server since its last
  // Restart.
  std::map<std::string, std::set<int>> kills_;
};

absl::StatusOr<std::unique_ptr<Supervisor>> Supervisor::Start() {
  absl::StatusOr<fixture::PrivateDir> dir = fixture::PrivateDir::Create();
  if (!dir.ok()) return dir.status();
  fixture::UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return fixture::ErrnoStatus(errno, "eventfd(supervisor)");
  auto impl = std::make_unique<Impl>(*std::move(dir), std::move(wake));
  if (absl::Status serving = impl->Serve(); !serving.ok()) return serving;
  return std::unique_ptr<Supervisor>(new Supervisor(std::move(impl)));
}

Supervisor::Supervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Supervisor::~Supervisor() = default;
const std::string& Supervisor::address() const { return impl_->address(); }
int Supervisor::fd() const { return impl_->fd(); }
void Supervisor::Serve(std::vector<Fixture>& fixtures) { impl_->Serve(fixtures); }
bool Supervisor::CausedExit(absl::string_view name, const fixture::ExitInfo& exit) const {
  return impl_->CausedExit(name, exit);
}
void Supervisor::Shutdown() { impl_->Shutdown(); }

}  // namespace fixturectl
