// KeyValueService: the example service under test, an in-memory key-value
// store (example/kv.proto). Thread-safe.
#ifndef FIXTURE_EXAMPLE_KV_SERVICE_H_
#define FIXTURE_EXAMPLE_KV_SERVICE_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fixture/example/kv.grpc.pb.h"

namespace fixture::example {

class KeyValueService : public v1::KeyValue::Service {
 public:
  grpc::Status Put(grpc::ServerContext* context, const v1::PutRequest* request, v1::PutResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const v1::GetRequest* request, v1::GetResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                      v1::DeleteResponse* response) override;
  grpc::Status List(grpc::ServerContext* context, const v1::ListRequest* request, v1::ListResponse* response) override;

  // Removes every key, as a fresh store has none (the server's reset hook,
  // ServerSetup::OnReset). How many there were.
  int Clear();

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> values_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fixture::example

#endif  // FIXTURE_EXAMPLE_KV_SERVICE_H_
