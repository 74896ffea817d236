#include "fixture/server/call_counter.h"

#include "absl/strings/match.h"

namespace fixture::server {
namespace {

class InFlightInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit InFlightInterceptor(std::shared_ptr<CallCounter> counter) : counter_(std::move(counter)) {}
  ~InFlightInterceptor() override { counter_->Finished(); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override { methods->Proceed(); }

 private:
  std::shared_ptr<CallCounter> counter_;
};

class CountingFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(std::shared_ptr<CallCounter> counter) : counter_(std::move(counter)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    if (!counter_->Counts(info->method())) return nullptr;  // No interceptor for this call.
    counter_->Started(info->method());
    return new InFlightInterceptor(counter_);  // gRPC owns it; deleted when the call ends.
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

bool CallCounter::Counts(const char* method) const {
  if (!per_method_ || method == nullptr) return true;
  absl::string_view name(method);
  return !absl::StartsWith(name, "/grpc.health.v1.Health/") && !absl::StartsWith(name, "/grpc.reflection.");
}

void CallCounter::Started(const char* method) {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
  if (per_method_ && method != nullptr) ++calls_[method];
}

void CallCounter::Finished() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

bool CallCounter::AwaitIdle(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

std::map<std::string, int64_t> CallCounter::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return std::map<std::string, int64_t>(calls_.begin(), calls_.end());
}

void CallCounter::ClearCounts() {
  absl::MutexLock lock(&mu_);
  calls_.clear();
}

}  // namespace fixture::server
