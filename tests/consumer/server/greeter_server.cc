// The consumer's server, built on fixture's server library
// (@com_example_fixture//server), in a package named `server` on purpose.
#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "proto/greeter.grpc.pb.h"
#include "server/server.h"

namespace {

class Greeter final : public consumer::v1::Greeter::Service {
  grpc::Status SayHello(grpc::ServerContext*, const consumer::v1::HelloRequest* request,
                        consumer::v1::HelloReply* reply) override {
    reply->set_message("hello, " + request->name());
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
