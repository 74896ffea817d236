// CallCounter: counts the RPCs each method of a server receives, and the RPCs
// in flight.
//
// A gRPC server interceptor factory: install it on a ServerBuilder and every
// RPC is counted when it arrives, before the handler runs, and leaves the
// in-flight count when gRPC releases the call. The in-flight count is what
// lets a stop end as soon as the last call is done rather than at the
// deadline (see BoundedShutdown in server.cc).
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
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"

namespace fixture::server {

class CallCounter : public std::enable_shared_from_this<CallCounter> {
 public:
  // `per_method`: the counter of the service under test: it keeps per-method
  // counts and leaves out the infrastructure every endpoint serves
  // (grpc.health.v1.Health, server reflection), whose calls are neither the
  // service's nor in flight for a stop (a Health.Watch client would hold
  // every stop for the whole grace). Without: the control server's counter,
  // which counts every call in flight and no methods.
  explicit CallCounter(bool per_method = true) : per_method_(per_method) {}

  // Whether calls of `method` are counted.
  bool Counts(const char* method) const;

  // Interceptor factories that count into this counter; they keep it alive.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> Factories();

  // One call of `method` (a full name, "/package.Service/Method") arrived.
  void Started(const char* method);
  // A call ended (gRPC released it).
  void Finished();

  // Blocks until no call is in flight or `deadline` passes; true if idle.
  bool AwaitIdle(absl::Time deadline) const;

  // Calls per method so far, sorted by method name.
  std::map<std::string, int64_t> Snapshot() const;

  // Forgets the per-method counts (FixtureControl.Reset): Snapshot() is empty
  // until the next call arrives. The calls in flight stay in flight.
  void ClearCounts();

 private:
  const bool per_method_;
  mutable absl::Mutex mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int64_t> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_CALL_COUNTER_H_
