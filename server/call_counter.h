// CallCounter: counts the RPCs each method of the server under test receives.
//
// A gRPC server interceptor factory: install it on a ServerBuilder and every
// RPC is counted when it arrives, before the handler runs. It creates no
// interceptor object, so the RPC path pays one hash-map increment.
//
//   auto counter = std::make_shared<CallCounter>();
//   builder.experimental().SetInterceptorCreators(counter->Factories());
//   ...
//   for (const auto& [method, calls] : counter->Snapshot()) ...
#ifndef FIXTURE_SERVER_CALL_COUNTER_H_
#define FIXTURE_SERVER_CALL_COUNTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"

namespace fixture::server {

class CallCounter : public std::enable_shared_from_this<CallCounter> {
 public:
  // Interceptor factories that count into this counter; they keep it alive.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> Factories();

  // Counts one call of `method` (a full name, "/package.Service/Method").
  void Count(const char* method);

  // Calls per method so far, sorted by method name.
  std::map<std::string, int64_t> Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int64_t> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_CALL_COUNTER_H_
