// The consumer's server, built on fixture's server library
// (@com_example_fixture//server, "fixture/server/server.h"), in a package named
// `server` with a server/server.h of its own, on purpose.
#include <string>

#include "absl/status/status.h"
#include "fixture/server/server.h"
#include "grpcpp/grpcpp.h"
#include "proto/greeter.grpc.pb.h"
#include "server/server.h"

namespace {

class Greeter final : public consumer::v1::Greeter::Service {
  grpc::Status SayHello(grpc::ServerContext*, const consumer::v1::HelloRequest* request,
                        consumer::v1::HelloReply* reply) override {
    reply->set_message(consumer::Greeting(request->name()));
    return grpc::Status::OK;
  }
};

}  // namespace

int main() {
  Greeter greeter;
  return fixture::server::Main([&](fixture::server::ServerSetup& setup) {
    setup.SetLabel("server", "greeter");
    return setup.AddService(&greeter);
  });
}
