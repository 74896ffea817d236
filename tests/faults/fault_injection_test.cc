// Fault injection over the control channel (FixtureControl.InjectFault,
// ClearFaults, ListFaults) against real kv_server processes, driven by real
// clients: a retry policy that rides out injected UNAVAILABLE, a deadline
// that fires on an injected delay, a seeded rate that hits the same calls on
// two servers, metadata and prefix matches, clearing, and bad input refused
// with the field named while the server stays up.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/fixture.h"
#include "fixture/launch/proto_time.h"
#include "fixture/proto/control.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "tests/control_calls.h"
#include "tests/test_util.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kRetryServiceConfig[] = R"({"methodConfig":[{"name":[{"service":"fixture.example.v1.KeyValue"}],
  "retryPolicy":{"maxAttempts":5,"initialBackoff":"0.01s","maxBackoff":"0.1s","backoffMultiplier":2,
  "retryableStatusCodes":["UNAVAILABLE"]}}]})";

v1::FaultSpec Failing(std::string method, grpc::StatusCode code) {
  v1::FaultSpec spec;
  spec.set_method(std::move(method));
  spec.set_code(code);
  return spec;
}

// Hit counts by fault id, as GetStatus reports them.
int64_t HitsOf(const v1::Status& status, int64_t id) {
  for (const v1::Fault& fault : status.faults()) {
    if (fault.id() == id) return fault.hits();
  }
  return -1;
}

// One Put with its own context (and optional deadline and metadata).
grpc::Status Put(const std::shared_ptr<grpc::Channel>& channel, const std::string& key,
                 absl::Duration deadline = absl::Seconds(10), std::pair<std::string, std::string> metadata = {}) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  if (!metadata.first.empty()) context.AddMetadata(metadata.first, metadata.second);
  example::v1::PutRequest request;
  request.set_key(key);
  request.set_value("v");
  example::v1::PutResponse response;
  return example::v1::KeyValue::NewStub(channel)->Put(&context, request, &response);
}

grpc::Status Get(const std::shared_ptr<grpc::Channel>& channel, const std::string& key,
                 absl::Duration deadline = absl::Seconds(10)) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  example::v1::GetRequest request;
  request.set_key(key);
  example::v1::GetResponse response;
  return example::v1::KeyValue::NewStub(channel)->Get(&context, request, &response);
}

TEST(FaultInjectionTest, RetryPolicyRecoversFromTwoInjectedUnavailable) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("kv")));
  ControlCalls faults(kv);
  v1::FaultSpec spec = Failing(kPutMethod, grpc::StatusCode::UNAVAILABLE);
  spec.set_count(2);
  ASSERT_OK_AND_ASSIGN(int64_t id, faults.InjectFault(spec));

  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(kRetryServiceConfig);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  ASSERT_OK_AND_ASSIGN(std::string address, kv.endpoint());
  auto retrying = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  grpc::Status put = Put(retrying, "retried");
  EXPECT_TRUE(put.ok()) << put.error_code() << ": " << put.error_message();

  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(HitsOf(status, id), 2) << status.DebugString();
  // Three attempts arrived: two failed by the fault, the third handled.
  EXPECT_EQ(CallsOf(status, kPutMethod), 3) << status.DebugString();
  ASSERT_OK_AND_ASSIGN(auto channel, kv.channel());
  EXPECT_THAT(KvGet(channel, "retried"), IsOkAndHolds("v"));

  // Without a retry policy the injected failure reaches the caller, and the
  // handler never ran: the key is not there.
  spec.set_count(1);
  spec.set_message("injected by the retry test");
  ASSERT_OK(faults.InjectFault(spec).status());
  grpc::Status failed = Put(channel, "never-stored");
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(failed.error_message(), "injected by the retry test");
  EXPECT_THAT(KvGet(channel, "never-stored"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FaultInjectionTest, DeadlineFiresOnAnInjectedDelayAndAStopEndsTheDelay) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("kv")));
  ControlCalls faults(kv);
  v1::FaultSpec spec;
  spec.set_method(kGetMethod);
  *spec.mutable_delay() = ToProtoDuration(absl::Minutes(10));
  ASSERT_OK_AND_ASSIGN(int64_t id, faults.InjectFault(spec));
  ASSERT_OK_AND_ASSIGN(auto channel, kv.channel());
  EXPECT_EQ(Get(channel, "k", absl::Milliseconds(200)).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(HitsOf(status, id), 1);
  // Other methods are not delayed.
  EXPECT_TRUE(Put(channel, "k").ok());

  // A call held by the delay, without a deadline of its own, does not hold
  // the stop: the delay ends when the server starts to stop.
  grpc::Status held;
  std::thread caller([&] { held = Get(channel, "k", absl::Hours(1)); });
  auto hits = [&] {
    absl::StatusOr<v1::Status> now = kv.status();
    return now.ok() ? HitsOf(*now, id) : -1;
  };
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (hits() < 2 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(hits(), 2) << "the held call never reached the server";
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
  caller.join();
  EXPECT_NE(held.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << held.error_message();
}

// Which of `calls` Puts the fault failed, in order.
std::vector<bool> FailedPuts(const Fixture& kv, int calls) {
  auto channel = *kv.channel();
  std::vector<bool> failed;
  for (int i = 0; i < calls; ++i) failed.push_back(!Put(channel, absl::StrCat("seeded/", i)).ok());
  return failed;
}

TEST(FaultInjectionTest, ASeededRateHitsTheSameCallsOnTwoServers) {
  constexpr int kCalls = 60;
  std::vector<std::vector<bool>> runs;
  for (const char* name : {"first", "second"}) {
    ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(name)));
    v1::FaultSpec spec = Failing(kPutMethod, grpc::StatusCode::ABORTED);
    spec.set_rate(0.3);
    spec.set_seed(20260514);
    ASSERT_OK_AND_ASSIGN(int64_t id, ControlCalls(kv).InjectFault(spec));
    runs.push_back(FailedPuts(kv, kCalls));
    int failed = static_cast<int>(std::count(runs.back().begin(), runs.back().end(), true));
    ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
    EXPECT_EQ(HitsOf(status, id), failed);
    // A rate of 0.3 over 60 calls: neither none nor all (p < 1e-9 either way).
    EXPECT_GT(failed, 0);
    EXPECT_LT(failed, kCalls);
  }
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(FaultInjectionTest, MetadataAndPrefixMatchOnlyTheirCallsAndNeverTheControlService) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("kv")));
  ControlCalls faults(kv);
  ASSERT_OK_AND_ASSIGN(auto channel, kv.channel());

  v1::FaultSpec tagged = Failing(kPutMethod, grpc::StatusCode::PERMISSION_DENIED);
  tagged.set_metadata_key("X-Fault");  // Compared in lower case, as gRPC sends it.
  tagged.set_metadata_value("yes");
  ASSERT_OK_AND_ASSIGN(int64_t tagged_id, faults.InjectFault(tagged));
  EXPECT_TRUE(Put(channel, "plain").ok());
  EXPECT_TRUE(Put(channel, "other-value", absl::Seconds(10), {"x-fault", "no"}).ok());
  EXPECT_EQ(Put(channel, "tagged", absl::Seconds(10), {"x-fault", "yes"}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(HitsOf(status, tagged_id), 1);
  ASSERT_THAT(faults.ClearFaults(tagged_id), IsOkAndHolds(1));

  ASSERT_OK_AND_ASSIGN(int64_t service_id,
                       faults.InjectFault(Failing("/fixture.example.v1.KeyValue/*", grpc::StatusCode::INTERNAL)));
  EXPECT_EQ(Put(channel, "k").error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(Get(channel, "k").error_code(), grpc::StatusCode::INTERNAL);
  // "*" matches every method of the service under test, and the control
  // socket still answers.
  ASSERT_OK(faults.InjectFault(Failing("*", grpc::StatusCode::UNAVAILABLE)).status());
  ASSERT_OK_AND_ASSIGN(status, kv.status());
  EXPECT_THAT(status, IsServing());
  EXPECT_EQ(HitsOf(status, service_id), 2);
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FaultInjectionTest, ClearFaultsRemovesOneOrAll) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("kv")));
  ControlCalls faults(kv);
  ASSERT_OK_AND_ASSIGN(auto channel, kv.channel());
  ASSERT_OK_AND_ASSIGN(int64_t put_id, faults.InjectFault(Failing(kPutMethod, grpc::StatusCode::UNAVAILABLE)));
  ASSERT_OK_AND_ASSIGN(int64_t get_id, faults.InjectFault(Failing(kGetMethod, grpc::StatusCode::UNAVAILABLE)));
  EXPECT_NE(put_id, get_id);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Fault> listed, faults.ListFaults());
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id(), put_id);
  EXPECT_EQ(listed[0].spec().method(), kPutMethod);
  EXPECT_EQ(listed[1].id(), get_id);

  EXPECT_THAT(faults.ClearFaults(put_id), IsOkAndHolds(1));
  EXPECT_TRUE(Put(channel, "k").ok());
  EXPECT_EQ(Get(channel, "k").error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_OK_AND_ASSIGN(listed, faults.ListFaults());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), get_id);
  EXPECT_EQ(listed[0].hits(), 1);

  EXPECT_THAT(faults.ClearFaults(std::nullopt), IsOkAndHolds(1));
  EXPECT_TRUE(Get(channel, "k").ok());
  EXPECT_THAT(faults.ListFaults(), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(faults.ClearFaults(std::nullopt), IsOkAndHolds(0));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FaultInjectionTest, BadInputIsRefusedNamingTheFieldAndTheServerStaysUp) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions("kv")));
  ControlCalls faults(kv);
  struct Case {
    v1::FaultSpec spec;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({Failing("/no.Such/Method", grpc::StatusCode::UNAVAILABLE), "fault.method"});
  cases.push_back({Failing("Put", grpc::StatusCode::UNAVAILABLE), "fault.method"});
  cases.push_back({Failing("/fixture.v1.FixtureControl/GetStatus", grpc::StatusCode::UNAVAILABLE), "fault.method"});
  cases.push_back({Failing("", grpc::StatusCode::UNAVAILABLE), "fault.method"});
  for (double rate : {1.5, -0.1}) {
    v1::FaultSpec spec = Failing(kPutMethod, grpc::StatusCode::UNAVAILABLE);
    spec.set_rate(rate);
    cases.push_back({spec, "fault.rate"});
  }
  v1::FaultSpec negative_delay;
  negative_delay.set_method(kPutMethod);
  *negative_delay.mutable_delay() = ToProtoDuration(absl::Milliseconds(-50));
  cases.push_back({negative_delay, "fault.delay"});
  v1::FaultSpec no_action;
  no_action.set_method(kPutMethod);
  cases.push_back({no_action, "fault.code"});
  cases.push_back({Failing(kPutMethod, static_cast<grpc::StatusCode>(17)), "fault.code"});
  v1::FaultSpec zero_count = Failing(kPutMethod, grpc::StatusCode::UNAVAILABLE);
  zero_count.set_count(0);
  cases.push_back({zero_count, "fault.count"});

  for (const Case& c : cases) {
    EXPECT_THAT(faults.InjectFault(c.spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)))
        << c.spec.DebugString();
    EXPECT_THAT(kv.status(), IsServing());
  }
  EXPECT_THAT(faults.ClearFaults(4242),
              StatusIs(absl::StatusCode::kNotFound, AllOf(HasSubstr("id"), HasSubstr("4242"))));
  EXPECT_THAT(kv.status(), IsServing());
  // Nothing was added by the refused calls, and the service still serves.
  EXPECT_THAT(faults.ListFaults(), IsOkAndHolds(IsEmpty()));
  ASSERT_OK_AND_ASSIGN(auto channel, kv.channel());
  EXPECT_TRUE(Put(channel, "k").ok());
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(FaultInjectionTest, AnAttachedServerIsFaultedToo) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(AttachedKvOptions()));
  ControlCalls faults(kv);
  v1::FaultSpec spec = Failing(kPutMethod, grpc::StatusCode::RESOURCE_EXHAUSTED);
  spec.set_count(1);
  ASSERT_OK_AND_ASSIGN(int64_t id, faults.InjectFault(spec));
  ASSERT_OK_AND_ASSIGN(auto channel, kv.channel());
  EXPECT_EQ(Put(channel, "k").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Put(channel, "k").ok());
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(HitsOf(status, id), 1);
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

}  // namespace
}  // namespace fixture::testing
