// The demo: the toolkit end to end on the example server.
//
//   tools/bazel run //tools:demo
//
// Starts example/kv_server as a fixture, waits for it to be ready, reads its
// status over the control channel, makes some Put/Get calls, shows the call
// counters, stops it, and prints a timeline of the whole life.
#include <stdio.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/fixture.h"
#include "fixture/launch/proto_time.h"
#include "grpcpp/client_context.h"

namespace {

using fixture::example::v1::KeyValue;

std::string Ms(absl::Duration d) { return absl::StrFormat("%8.3f ms", absl::ToDoubleMilliseconds(d)); }

int Fail(const absl::Status& status) {
  fprintf(stderr, "demo failed: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main() {
  absl::Time t0 = absl::Now();
  auto at = [&t0] { return Ms(absl::Now() - t0); };

  printf("[%s] starting example/kv_server\n", at().c_str());
  absl::StatusOr<fixture::Fixture> kv =
      fixture::Fixture::Start({.name = "kv", .program = fixture::Binary{"example/kv_server"}});
  if (!kv.ok()) return Fail(kv.status());
  printf("[%s] ready: pid %d, fork->ready %s, control %s\n", at().c_str(), kv->pid(),
         Ms(kv->timeline().fork_to_ready()).c_str(), kv->control_address().c_str());

  absl::StatusOr<fixture::v1::Status> status = kv->status();
  if (!status.ok()) return Fail(status.status());
  printf("[%s] status: state %s, uptime %s\n", at().c_str(), fixture::v1::State_Name(status->state()).c_str(),
         absl::FormatDuration(*fixture::FromProtoDuration(status->uptime())).c_str());
  for (const auto& endpoint : status->endpoints()) {
    printf("           endpoint %-6s %s\n", endpoint.name().c_str(), endpoint.address().c_str());
  }
  for (const auto& [key, value] : status->labels()) printf("           label    %s=%s\n", key.c_str(), value.c_str());

  auto stub = KeyValue::NewStub(*kv->channel("grpc"));
  const std::pair<std::string, std::string> entries[] = {{"apple", "red"}, {"banana", "yellow"}, {"cherry", "dark"}};
  for (const auto& [key, value] : entries) {
    grpc::ClientContext context;
    fixture::example::v1::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    fixture::example::v1::PutResponse response;
    grpc::Status put = stub->Put(&context, request, &response);
    if (!put.ok()) return Fail(absl::InternalError(put.error_message()));
    printf("[%s] Put(%s=%s) created=%d\n", at().c_str(), key.c_str(), value.c_str(), response.created());
  }
  for (const char* key : {"banana", "durian"}) {
    grpc::ClientContext context;
    fixture::example::v1::GetRequest request;
    request.set_key(key);
    fixture::example::v1::GetResponse response;
    grpc::Status get = stub->Get(&context, request, &response);
    printf("[%s] Get(%s) -> %s\n", at().c_str(), key,
           get.ok() ? response.value().c_str()
                    : absl::StrCat("error ", get.error_code(), ": ", get.error_message()).c_str());
  }

  status = kv->status();
  if (!status.ok()) return Fail(status.status());
  printf("[%s] call counters:\n", at().c_str());
  for (const auto& calls : status->method_calls()) {
    printf("           %-40s %lld\n", calls.method().c_str(), static_cast<long long>(calls.calls()));
  }

  absl::StatusOr<fixture::StopResult> stopped = kv->Stop();
  if (!stopped.ok()) return Fail(stopped.status());
  printf("[%s] stopped: %s\n", at().c_str(), stopped->ToString().c_str());
  printf("\ntimeline: fork->ready %s | stop (%s) %s | whole life %s\n", Ms(kv->timeline().fork_to_ready()).c_str(),
         stopped->how().c_str(), Ms(stopped->duration).c_str(), Ms(absl::Now() - t0).c_str());
  return stopped->clean() ? 0 : 1;
}
