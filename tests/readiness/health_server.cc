// health_server: a tiny gRPC server (the example KeyValue service) with
// gRPC's default health service, for grpc_health_watch_test.cc, written the
// way servers outside this toolkit are (its own main and ServerBuilder, no
// fixture library). gRPC adds its default health service to servers with a
// synchronous service only, hence KeyValue.
//
// Usage: health_server ADDRESS [--service=NAME --status=serving|not_serving]
//                              [--no_health]
// Serves until SIGTERM or SIGINT. "" (the server as a whole) is SERVING, as
// gRPC's default health service has it; --service sets NAME's status right
// after the start (before that, a Watch of NAME hears SERVICE_UNKNOWN, never
// SERVING); --no_health serves no health service at all.
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <memory>
#include <string>

#include "fixture/example/kv_service.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: health_server ADDRESS [--service=NAME --status=serving|not_serving] [--no_health]\n");
    return 2;
  }
  std::string address = argv[1], service, status = "serving";
  bool health = true;
  for (int i = 2; i < argc; ++i) {
    if (strncmp(argv[i], "--service=", 10) == 0)
      service = argv[i] + 10;
    else if (strncmp(argv[i], "--status=", 9) == 0)
      status = argv[i] + 9;
    else if (strcmp(argv[i], "--no_health") == 0)
      health = false;
  }
  // Blocked before gRPC starts its threads, so that sigwait() gets them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  grpc::EnableDefaultHealthCheckService(health);
  fixture::example::KeyValueService kv;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.RegisterService(&kv);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    fprintf(stderr, "health_server: cannot listen on %s\n", address.c_str());
    return 1;
  }
  if (!service.empty() && server->GetHealthCheckService() != nullptr) {
    server->GetHealthCheckService()->SetServingStatus(service, status == "serving");
  }
  fprintf(stderr, "health_server: serving on %s\n", address.c_str());
  int signal = 0;
  sigwait(&stop, &signal);
  server->Shutdown();
  return 0;
}
