// attached_server: the example KeyValue service in a server written the usual
// way, not on server/'s Main(): its own main(), its own grpc::ServerBuilder
// and interceptor, port 0 with `selected_port`, server->Wait(). The two lines
// that let a fixture start, watch and stop it are marked "fixture".
//
//   attached_server [--address=127.0.0.1:0]
//
// Outside a fixture it prints "listening on port N" and serves until killed.
// --crash_before_start makes it abort() before it builds its server, for the
// test of a crash before ready.
#include <stdlib.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "fixture/example/kv_service.h"
#include "fixture/server/attach.h"  // fixture (1 of 2)
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"

ABSL_FLAG(std::string, address, "127.0.0.1:0", "Address to serve KeyValue on (port 0: any free port).");
ABSL_FLAG(bool, crash_before_start, false, "Test only: abort() before the server is built.");

namespace {

// The server's own interceptor, as servers have them (logging, auth, ...):
// every response carries the trailing metadata "served-by: attached_server".
class ServedByInterceptor : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      methods->GetSendTrailingMetadata()->emplace("served-by", "attached_server");
    }
    methods->Proceed();
  }
};

class ServedByFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo*) override {
    return new ServedByInterceptor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_crash_before_start)) {
    std::cerr << "attached_server: crashing before start as --crash_before_start asks" << std::endl;
    abort();
  }

  fixture::example::KeyValueService kv;
  int selected_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_address), grpc::InsecureServerCredentials(), &selected_port);
  builder.RegisterService(&kv);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<ServedByFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  std::unique_ptr<grpc::Server> server = fixture::server::AttachAndStart(builder);  // fixture (2 of 2)
  if (server == nullptr) {
    std::cerr << "attached_server: cannot serve on " << absl::GetFlag(FLAGS_address) << std::endl;
    return 1;
  }
  std::cout << "attached_server: listening on port " << selected_port << std::endl;
  server->Wait();
  std::cout << "attached_server: stopped" << std::endl;
  return 0;
}
