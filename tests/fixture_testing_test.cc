// fixture/testing.h on values made by hand: each macro and matcher accepts
// what it should, rejects what it should, and says why. No server runs.
#include <signal.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fixture/fixture.h"
#include "fixture/launch/failure.h"
#include "fixture/proto/control.pb.h"
#include "fixture/proto/failure.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::DescribeMatcher;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Property;
using ::testing::StringMatchResultListener;

// Why `matcher` rejects (or accepts) `value`.
template <typename T, typename M>
std::string Explain(const M& matcher, const T& value) {
  StringMatchResultListener listener;
  ::testing::Matcher<const T&>(matcher).MatchAndExplain(value, &listener);
  return listener.str();
}

absl::StatusOr<int> Seven() { return 7; }
absl::StatusOr<int> Missing() { return absl::NotFoundError("no seven here"); }

StopResult Stopped(StopStage stage, int signal, ExitInfo exit) {
  StopResult result;
  result.stage = stage;
  result.signal = signal;
  result.exit = exit;
  return result;
}
ExitInfo Exited(int code) { return {.pid = 42, .signaled = false, .code = code}; }
ExitInfo Killed(int signal) { return {.pid = 42, .signaled = true, .signal = signal}; }

// A start failure as the fixture reports it: the process exited with 7.
absl::Status ExitedBeforeReady() {
  v1::Failure failure;
  failure.set_fixture("kv");
  failure.set_stage(v1::Failure::START);
  failure.set_cause(v1::Failure::EXITED);
  failure.set_pid(42);
  *failure.mutable_exit() = ToProto(Exited(7));
  return WithFailure(absl::FailedPreconditionError("server pid 42 exited with status 7 before it was ready"), failure);
}

TEST(IsOkTest, AcceptsOkStatusesAndValuesAndShowsTheStatusOfOthers) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(Seven(), IsOk());
  EXPECT_THAT(absl::InternalError("boom"), Not(IsOk()));
  EXPECT_THAT(Missing(), Not(IsOk()));
  EXPECT_EQ(Explain(IsOk(), Missing()), "whose status is NOT_FOUND: no seven here");
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk()), "is OK");
}

TEST(StatusIsTest, MatchesTheCodeAndTheMessage) {
  EXPECT_THAT(Missing(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Missing(), StatusIs(absl::StatusCode::kNotFound, "no seven here"));
  EXPECT_THAT(Missing(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("seven")));
  EXPECT_THAT(Missing(), Not(StatusIs(absl::StatusCode::kInternal, HasSubstr("seven"))));
  EXPECT_THAT(Missing(), Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("eight"))));
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(Seven(), Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_EQ(DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kNotFound, HasSubstr("seven"))),
            "has a status whose code is equal to NOT_FOUND and whose message has substring \"seven\"");
}

TEST(IsOkAndHoldsTest, MatchesTheValueOfAnOkStatusOr) {
  EXPECT_THAT(Seven(), IsOkAndHolds(7));
  EXPECT_THAT(Seven(), IsOkAndHolds(::testing::Gt(6)));
  EXPECT_THAT(Seven(), Not(IsOkAndHolds(8)));
  EXPECT_THAT(Missing(), Not(IsOkAndHolds(7)));
  EXPECT_THAT(absl::StatusOr<std::string>("red"), IsOkAndHolds("red"));
  EXPECT_EQ(Explain(IsOkAndHolds(8), Seven()), "whose value is 7");
  EXPECT_EQ(Explain(IsOkAndHolds(7), Missing()), "whose status is NOT_FOUND: no seven here");
}

void AssignsTheValue(int* out) {
  ASSERT_OK_AND_ASSIGN(int value, Seven());
  *out = value;
}
void AssertsOnAnError() {
  ASSERT_OK_AND_ASSIGN(int value, Missing());
  (void)value;
  ADD_FAILURE() << "ASSERT_OK_AND_ASSIGN went on after an error";
}
void AssertOkOnAnError() { ASSERT_OK(Missing()); }
void ExpectOkOnAnError() { EXPECT_OK(absl::UnavailableError("down")); }

TEST(MacrosTest, AssertOkAndAssignMovesTheValueOrFailsNamingTheExpression) {
  int value = 0;
  AssignsTheValue(&value);
  EXPECT_EQ(value, 7);
  EXPECT_FATAL_FAILURE(AssertsOnAnError(), "Expected: Missing() is OK\n  Actual: NOT_FOUND: no seven here");
}

TEST(MacrosTest, AssertOkAndExpectOkNameTheExpressionAndShowTheStatus) {
  ASSERT_OK(Seven());
  EXPECT_OK(absl::OkStatus());
  EXPECT_FATAL_FAILURE(AssertOkOnAnError(), "Missing() is OK\n  Actual: NOT_FOUND: no seven here");
  EXPECT_NONFATAL_FAILURE(ExpectOkOnAnError(), "absl::UnavailableError(\"down\") is OK\n  Actual: UNAVAILABLE: down");
}

TEST(StopMatchersTest, CleanIsControlOrASignalOtherThanSigkillWithStatus0) {
  EXPECT_THAT(Stopped(StopStage::kControl, 0, Exited(0)), StoppedCleanly());
  EXPECT_THAT(Stopped(StopStage::kSignal, SIGINT, Exited(0)), StoppedCleanly());
  EXPECT_THAT(Stopped(StopStage::kSignal, SIGKILL, Killed(SIGKILL)), Not(StoppedCleanly()));
  EXPECT_THAT(Stopped(StopStage::kControl, 0, Exited(1)), Not(StoppedCleanly()));
  EXPECT_THAT(Stopped(StopStage::kAlreadyExited, 0, Exited(0)), Not(StoppedCleanly()));
  EXPECT_THAT(absl::StatusOr<StopResult>(Stopped(StopStage::kControl, 0, Exited(0))), StoppedCleanly());
  EXPECT_THAT(absl::StatusOr<StopResult>(absl::DeadlineExceededError("stuck")), Not(StoppedCleanly()));
  EXPECT_EQ(Explain(StoppedCleanly(), absl::StatusOr<StopResult>(Stopped(StopStage::kControl, 0, Exited(1)))),
            "which is \"pid 42 exited with status 1; stopped by control Shutdown in 0\"");
  EXPECT_EQ(::testing::PrintToString(Stopped(StopStage::kControl, 0, Exited(1))),
            "StopResult{pid 42 exited with status 1; stopped by control Shutdown in 0}");
  EXPECT_EQ(Explain(StoppedCleanly(), absl::StatusOr<StopResult>(absl::DeadlineExceededError("stuck"))),
            "whose status is DEADLINE_EXCEEDED: stuck");
}

TEST(StopMatchersTest, StageAndSignalMatchWhatEndedTheProcess) {
  const StopResult by_sigint = Stopped(StopStage::kSignal, SIGINT, Exited(0));
  EXPECT_THAT(by_sigint, StoppedBy(StopStage::kSignal));
  EXPECT_THAT(by_sigint, StoppedBySignal(SIGINT));
  EXPECT_THAT(by_sigint, Not(StoppedBySignal(SIGKILL)));
  EXPECT_THAT(by_sigint, Not(StoppedBy(StopStage::kControl)));
  // A signal that was not the step that ended it does not count.
  EXPECT_THAT(Stopped(StopStage::kAlreadyExited, 0, Killed(SIGINT)), Not(StoppedBySignal(SIGINT)));
  EXPECT_THAT(Stopped(StopStage::kAlreadyExited, 0, Killed(SIGABRT)), StoppedBy(StopStage::kAlreadyExited));
  EXPECT_EQ(DescribeMatcher<StopResult>(StoppedBySignal(SIGKILL)), "is a stop by the SIGKILL step");
  EXPECT_EQ(DescribeMatcher<StopResult>(StoppedBy(StopStage::kControl)), "is a stop at stage \"control Shutdown\"");
}

TEST(IsServingTest, WantsStateServing) {
  v1::Status status;
  status.set_state(v1::SERVING);
  EXPECT_THAT(status, IsServing());
  EXPECT_THAT(absl::StatusOr<v1::Status>(status), IsServing());
  status.set_state(v1::DRAINING);
  EXPECT_THAT(status, Not(IsServing()));
  EXPECT_EQ(Explain(IsServing(), status), "whose state is DRAINING");
  EXPECT_THAT(absl::StatusOr<v1::Status>(absl::UnavailableError("gone")), Not(IsServing()));
}

TEST(CalledTimesTest, CountsOneMethodByItsFullName) {
  v1::Status status;
  v1::MethodCalls* put = status.add_method_calls();
  put->set_method("/fixture.example.v1.KeyValue/Put");
  put->set_calls(2);
  EXPECT_THAT(status, CalledTimes("/fixture.example.v1.KeyValue/Put", 2));
  EXPECT_THAT(absl::StatusOr<v1::Status>(status), CalledTimes("/fixture.example.v1.KeyValue/Put", 2));
  EXPECT_THAT(status, CalledTimes("/fixture.example.v1.KeyValue/Get", 0));  // Not counted: none.
  EXPECT_THAT(status, Not(CalledTimes("/fixture.example.v1.KeyValue/Put", 3)));
  EXPECT_EQ(Explain(CalledTimes("/fixture.example.v1.KeyValue/Put", 3), status),
            "whose count of /fixture.example.v1.KeyValue/Put is 2");
  EXPECT_THAT(absl::StatusOr<v1::Status>(absl::UnavailableError("gone")), Not(CalledTimes("/x/Y", 0)));
}

TEST(HasEndpointTest, FindsAnEndpointByNameAndListsTheOthers) {
  v1::Status status;
  v1::Endpoint* grpc = status.add_endpoints();
  grpc->set_name("grpc");
  grpc->set_address("127.0.0.1:41234");
  status.add_endpoints()->set_name("admin");
  EXPECT_THAT(status, HasEndpoint("grpc"));
  EXPECT_EQ(Explain(HasEndpoint("grpc"), status), "at 127.0.0.1:41234");
  EXPECT_THAT(status, Not(HasEndpoint("metrics")));
  EXPECT_EQ(Explain(HasEndpoint("metrics"), status), "whose endpoints are [grpc, admin]");
  EXPECT_THAT(absl::StatusOr<v1::Status>(status), HasEndpoint("admin"));
}

TEST(CarriesFailureTest, MatchesTheFieldsOfThePayload) {
  const absl::Status error = ExitedBeforeReady();
  EXPECT_THAT(error, CarriesFailure(FailureAt(v1::Failure::START, v1::Failure::EXITED)));
  EXPECT_THAT(error, CarriesFailure(AllOf(ProcessExitedWith(7), Property(&v1::Failure::pid, 42))));
  EXPECT_THAT(absl::StatusOr<int>(error), CarriesFailure(ProcessExitedWith(7)));
  EXPECT_THAT(error, Not(CarriesFailure(FailureAt(v1::Failure::SERVING, v1::Failure::EXITED))));
  EXPECT_THAT(error, Not(CarriesFailure(ProcessExitedWith(0))));
  EXPECT_THAT(error, Not(CarriesFailure(ProcessKilledBy(SIGKILL))));
  EXPECT_THAT(error, Not(CarriesFailure(ForField("program"))));
  EXPECT_THAT(absl::InternalError("plain"), Not(CarriesFailure(::testing::_)));
  EXPECT_THAT(Explain(CarriesFailure(ProcessKilledBy(SIGKILL)), error),
              AllOf(HasSubstr("stage: START cause: EXITED"), HasSubstr("whose process exited with status 7")));
  EXPECT_THAT(Explain(CarriesFailure(::testing::_), absl::InternalError("plain")),
              HasSubstr("carries no fixture.v1.Failure"));

  const absl::Status bad_option = WithFailure(absl::InvalidArgumentError("FixtureOptions.stop.grace: ..."),
                                              BadOption("kv", "stop.grace", v1::Failure::BAD_OPTION));
  EXPECT_THAT(bad_option,
              CarriesFailure(AllOf(FailureAt(v1::Failure::OPTIONS, v1::Failure::BAD_OPTION), ForField("stop.grace"))));
  EXPECT_THAT(bad_option, Not(CarriesFailure(ProcessExitedWith(0))));  // No process, so no exit.
}

}  // namespace
}  // namespace fixture::testing
