#include "fixture/example/kv_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fixture::example {

grpc::Status KeyValueService::Put(grpc::ServerContext*, const v1::PutRequest* request, v1::PutResponse* response) {
  if (request->key().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "key: must not be empty");
  absl::MutexLock lock(&mu_);
  response->set_created(values_.insert_or_assign(request->key(), request->value()).second);
  return grpc::Status::OK;
}

grpc::Status KeyValueService::Get(grpc::ServerContext*, const v1::GetRequest* request, v1::GetResponse* response) {
  absl::MutexLock lock(&mu_);
  auto found = values_.find(request->key());
  if (found == values_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("key \"", request->key(), "\" has no value"));
  }
  response->set_value(found->second);
  return grpc::Status::OK;
}

grpc::Status KeyValueService::Delete(grpc::ServerContext*, const v1::DeleteRequest* request, v1::DeleteResponse*) {
  absl::MutexLock lock(&mu_);
  if (values_.erase(request->key()) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("key \"", request->key(), "\" has no value"));
  }
  return grpc::Status::OK;
}

grpc::Status KeyValueService::List(grpc::ServerContext*, const v1::ListRequest* request, v1::ListResponse* response) {
  absl::MutexLock lock(&mu_);
  for (auto it = values_.lower_bound(request->prefix());
       it != values_.end() && absl::StartsWith(it->first, request->prefix()); ++it) {
    v1::ListResponse::Entry* entry = response->add_entries();
    entry->set_key(it->first);
    entry->set_value(it->second);
  }
  return grpc::Status::OK;
}

int KeyValueService::Clear() {
  absl::MutexLock lock(&mu_);
  int cleared = static_cast<int>(values_.size());
  values_.clear();
  return cleared;
}

}  // namespace fixture::example
