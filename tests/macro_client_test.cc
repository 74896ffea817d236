// A C++ test run through the fixture_test macro (tests/BUILD.bazel): the
// server is already up, started by fixturectl; the test finds it in its
// environment. Sharded (shard_count = 2): each shard gets its own server.
#include <stdlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

std::shared_ptr<grpc::Channel> KvChannel() {
  return grpc::CreateChannel(Env("FIXTURE_KV_GRPC"), grpc::InsecureChannelCredentials());
}

TEST(MacroClient, TheServerIsInTheEnvironment) {
  EXPECT_EQ(Env("FIXTURE_SERVERS"), "kv");
  EXPECT_EQ(Env("FIXTURE_CONTROL"), Env("FIXTURE_KV_CONTROL"));
  EXPECT_EQ(Env("FIXTURE_KV_CONTROL").rfind("unix:", 0), 0u) << Env("FIXTURE_KV_CONTROL");
  EXPECT_EQ(Env("FIXTURE_KV_GRPC").rfind("127.0.0.1:", 0), 0u) << Env("FIXTURE_KV_GRPC");
}

TEST(MacroClient, DataRoundTrip) {
  std::string shard = Env("TEST_SHARD_INDEX");
  ASSERT_TRUE(KvPut(KvChannel(), "shard", shard).ok());
  EXPECT_THAT(KvGet(KvChannel(), "shard"), IsOkAndHolds(shard));
}

TEST(MacroClient, EachShardHasItsOwnServer) {
  // A key written by the other shard's test is not here: the server is fresh.
  absl::StatusOr<std::string> other = KvGet(KvChannel(), "written-by-another-run");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kNotFound) << other.status();
  ASSERT_TRUE(KvPut(KvChannel(), "written-by-another-run", "x").ok());
}

}  // namespace
}  // namespace fixture::testing
