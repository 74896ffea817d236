// A C++ test run through the fixture_test macro (tests/BUILD.bazel): the
// server is already up, started by fixturectl; the test finds it in its
// environment. Sharded (shard_count = 2): each shard gets its own server.
#include <stdlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
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
  ASSERT_OK(KvPut(KvChannel(), "shard", shard));
  EXPECT_THAT(KvGet(KvChannel(), "shard"), IsOkAndHolds(shard));
}

TEST(MacroClient, EachShardHasItsOwnServer) {
  // A key written by the other shard's test is not here: the server is fresh.
  EXPECT_THAT(KvGet(KvChannel(), "written-by-another-run"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(KvPut(KvChannel(), "written-by-another-run", "x"));
}

}  // namespace
}  // namespace fixture::testing
