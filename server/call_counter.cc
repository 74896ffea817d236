#include "server/call_counter.h"

namespace fixture::server {
namespace {

class CountingFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(std::shared_ptr<CallCounter> counter) : counter_(std::move(counter)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    counter_->Count(info->method());
    return nullptr;  // Counting is all; no per-RPC interceptor.
  }

 private:
  std::shared_ptr<CallCounter> counter_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> CallCounter::Factories() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<CountingFactory>(shared_from_this()));
  return factories;
}

void CallCounter::Count(const char* method) {
  if (method == nullptr) return;
  absl::MutexLock lock(&mu_);
  ++calls_[method];
}

std::map<std::string, int64_t> CallCounter::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return std::map<std::string, int64_t>(calls_.begin(), calls_.end());
}

}  // namespace fixture::server
