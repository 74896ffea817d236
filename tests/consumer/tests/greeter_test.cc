// fixture from another workspace: the consumer's own server (built on
// @com_example_fixture//server) and fixture's example kv_server, each named
// by its workspace path, started, called and stopped by
// @com_example_fixture//fixture.
#include <chrono>
#include <memory>
#include <string>

#include "fixture/fixture.h"
#include "fixture/testing.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/greeter.grpc.pb.h"

namespace {

using ::fixture::testing::IsServing;

TEST(ConsumerTest, OwnServerByItsWorkspacePath) {
  fixture::FixtureOptions options;
  options.name = "greeter";
  options.program = fixture::Binary{"server/greeter_server"};  // The consumer's (TEST_WORKSPACE).
  absl::StatusOr<fixture::Fixture> greeter = fixture::Fixture::Start(options);
  ASSERT_TRUE(greeter.ok()) << greeter.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = greeter->channel("grpc");
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = consumer::v1::Greeter::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  consumer::v1::HelloRequest request;
  request.set_name("monorepo");
  consumer::v1::HelloReply reply;
  grpc::Status called = stub->SayHello(&context, request, &reply);
  ASSERT_TRUE(called.ok()) << called.error_message();
  EXPECT_EQ(reply.message(), "hello, monorepo");
  absl::StatusOr<fixture::v1::Status> status = greeter->status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(*status, IsServing());
  EXPECT_EQ(status->labels().at("server"), "greeter");
  absl::StatusOr<fixture::StopResult> stopped = greeter->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->clean()) << stopped->ToString();
}

TEST(ConsumerTest, FixturesOwnServerByItsPathInThatRepository) {
  fixture::FixtureOptions options;
  options.name = "kv";
  options.program = fixture::Binary{"example/kv_server"};  // fixture's, under com_example_fixture.
  absl::StatusOr<fixture::Fixture> kv = fixture::Fixture::Start(options);
  ASSERT_TRUE(kv.ok()) << kv.status();
  absl::StatusOr<fixture::StopResult> stopped = kv->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->clean()) << stopped->ToString();
}

}  // namespace
