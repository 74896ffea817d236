// plain_grpc_server: a gRPC server written the way people write them, with
// gRPC's defaults (SO_REUSEPORT on), for port_reservation_test. Serves the
// example KeyValue service on the address given as its one argument, prints
// "listening on port N" once bound, and shuts down on SIGTERM or SIGINT.
//
//   plain_grpc_server 127.0.0.1:0
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include <memory>
#include <string>
#include <thread>

#include "fixture/example/kv_service.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: plain_grpc_server ADDRESS\n");
    return 2;
  }
  // Blocked before gRPC starts its threads, so that they inherit the mask and
  // only sigwait() below takes these signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  fixture::example::KeyValueService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(argv[1], grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    fprintf(stderr, "plain_grpc_server: cannot listen on %s\n", argv[1]);
    return 1;
  }
  printf("listening on port %d\n", port);
  fflush(stdout);
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    server->Shutdown();
  });
  server->Wait();
  stopper.join();
  return 0;
}
