#include "server/watched_server.h"

#include <string>
#include <utility>
#include <vector>

#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/impl/server_initializer.h"
#include "grpcpp/impl/service_type.h"

namespace fixture::server {
namespace {

// A service without methods whose destruction is the server's.
class Sentinel : public grpc::Service {
 public:
  explicit Sentinel(std::shared_ptr<WatchedServer> watched) : watched_(std::move(watched)) {}
  ~Sentinel() override { watched_->Gone(); }

 private:
  std::shared_ptr<WatchedServer> watched_;
};

// Gives the server the sentinel when it is made (ServerInitializer keeps it).
class SentinelPlugin : public grpc::ServerBuilderPlugin {
 public:
  explicit SentinelPlugin(std::shared_ptr<Sentinel> sentinel) : sentinel_(std::move(sentinel)) {}
  std::string name() override { return "fixture_watched_server"; }
  void InitServer(grpc::ServerInitializer* initializer) override {
    if (sentinel_ != nullptr) initializer->RegisterService(std::move(sentinel_));
  }
  void Finish(grpc::ServerInitializer*) override {}
  void ChangeArguments(const std::string&, void*) override {}

 private:
  std::shared_ptr<Sentinel> sentinel_;
};

// Adds the plugin to one builder (a plugin factory would add it to all).
class SentinelOption : public grpc::ServerBuilderOption {
 public:
  explicit SentinelOption(std::unique_ptr<SentinelPlugin> plugin) : plugin_(std::move(plugin)) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    if (plugin_ != nullptr) plugins->push_back(std::move(plugin_));  // The first server built only.
  }

 private:
  std::unique_ptr<SentinelPlugin> plugin_;
};

}  // namespace

std::shared_ptr<WatchedServer> WatchedServer::Watch(grpc::ServerBuilder& builder, std::function<void()> on_gone) {
  std::shared_ptr<WatchedServer> watched(new WatchedServer());
  {
    absl::MutexLock lock(&watched->mu_);
    watched->on_gone_ = std::move(on_gone);
  }
  builder.SetOption(
      std::make_unique<SentinelOption>(std::make_unique<SentinelPlugin>(std::make_shared<Sentinel>(watched))));
  return watched;
}

void WatchedServer::Set(grpc::Server* server) {
  absl::MutexLock lock(&mu_);
  if (!gone_) server_ = server;
}

bool WatchedServer::Shutdown(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (server_ == nullptr) return false;
  server_->Shutdown(absl::ToChronoTime(deadline));
  return true;
}

void WatchedServer::Forget() {
  absl::MutexLock lock(&mu_);
  on_gone_ = nullptr;
}

void WatchedServer::Gone() {
  absl::MutexLock lock(&mu_);  // Waits for a Shutdown() in progress.
  server_ = nullptr;
  gone_ = true;
  if (on_gone_) std::exchange(on_gone_, nullptr)();
}

}  // namespace fixture::server
