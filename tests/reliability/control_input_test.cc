// Bad input on the control channel: every request that breaks the contract is
// answered with a clear gRPC status and the server stays up (a GetStatus
// afterwards still says SERVING); bytes that are not gRPC at all only cost
// their own connection. Then the control channel while the server stops:
// Shutdown again and from ten clients at once, GetStatus and WaitReady while
// an in-flight call holds the server in DRAINING.
//
// Requests with a negative or over-1h grace and a negative WaitReady timeout
// are covered for exec mode in tests/fixture_lifecycle_test.cc; here they run
// in process, and the rest in both modes.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/fixture.h"
#include "fixture/grpc_status.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/proto_time.h"
#include "fixture/launch/socket_path.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/proto/control.grpc.pb.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_util.h"

namespace fixture::reliability {
namespace {

using ::fixture::testing::ExpectExitedZeroOnItsOwn;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Stub = v1::FixtureControl::Stub;

constexpr absl::Duration kCallDeadline = absl::Seconds(10);
// The control server's receive limit (server/server.cc).
constexpr size_t kControlMaxMessageBytes = 64 * 1024;

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

absl::StatusOr<v1::ShutdownResponse> Shutdown(Stub& stub, const v1::ShutdownRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ShutdownResponse response;
  grpc::Status rpc = stub.Shutdown(&context, request, &response);
  if (!rpc.ok()) return FromGrpc(rpc);
  return response;
}

v1::ShutdownRequest WithGrace(absl::Duration grace) {
  v1::ShutdownRequest request;
  *request.mutable_grace() = ToProtoDuration(grace);
  return request;
}

absl::Status WaitReady(Stub& stub, const v1::WaitReadyRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::WaitReadyResponse response;
  return FromGrpc(stub.WaitReady(&context, request, &response));
}

// The server is up and serving, and still the same process.
void ExpectStillServing(Fixture& kv, absl::string_view after) {
  SCOPED_TRACE(absl::StrCat("after ", after));
  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_THAT(status, IsServing());
  EXPECT_EQ(status.pid(), kv.pid());
}

// --- Malformed requests -----------------------------------------------------------------

google::protobuf::Duration RawDuration(int64_t seconds, int32_t nanos) {
  google::protobuf::Duration d;
  d.set_seconds(seconds);
  d.set_nanos(nanos);
  return d;
}

struct BadRequest {
  std::string scenario;
  // Sends the request; returns the call's status.
  std::function<absl::Status(Stub&)> send;
  std::string message;            // A substring of the INVALID_ARGUMENT message.
  bool covered_for_exec = false;  // By tests/fixture_lifecycle_test.cc.
};

BadRequest ShutdownWithGrace(std::string scenario, google::protobuf::Duration grace, std::string message,
                             bool covered_for_exec = false) {
  return {std::move(scenario),
          [grace](Stub& stub) {
            v1::ShutdownRequest request;
            *request.mutable_grace() = grace;
            return Shutdown(stub, request).status();
          },
          std::move(message), covered_for_exec};
}

BadRequest WaitReadyWithTimeout(std::string scenario, google::protobuf::Duration timeout, std::string message,
                                bool covered_for_exec = false) {
  return {std::move(scenario),
          [timeout](Stub& stub) {
            v1::WaitReadyRequest request;
            *request.mutable_timeout() = timeout;
            return WaitReady(stub, request);
          },
          std::move(message), covered_for_exec};
}

std::vector<BadRequest> BadRequests() {
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max();
  return {
      ShutdownWithGrace("ShutdownWithNegativeGrace", ToProtoDuration(absl::Seconds(-1)),
                        "grace: must not be negative, got -1s", true),
      ShutdownWithGrace("ShutdownWithGraceOver1h", ToProtoDuration(absl::Hours(2)), "grace: at most 1h, got 2h", true),
      ShutdownWithGrace("ShutdownWithGraceOfInt64MaxSeconds", RawDuration(kMaxSeconds, 0),
                        "grace: at most 1h, got 2562047788015215h30m7s"),
      ShutdownWithGrace("ShutdownWithPositiveSecondsAndNegativeNanos", RawDuration(1, -1),
                        "grace: malformed Duration {seconds: 1, nanos: -1}"),
      ShutdownWithGrace("ShutdownWithNegativeSecondsAndPositiveNanos", RawDuration(-1, 5),
                        "grace: malformed Duration {seconds: -1, nanos: 5}"),
      ShutdownWithGrace("ShutdownWithNanosOfASecondOrMore", RawDuration(0, 1000000000),
                        "grace: malformed Duration {seconds: 0, nanos: 1000000000}"),
      WaitReadyWithTimeout("WaitReadyWithNegativeTimeout", ToProtoDuration(absl::Milliseconds(-5)),
                           "timeout: must not be negative, got -5ms", true),
      WaitReadyWithTimeout("WaitReadyWithTimeoutOver1h", ToProtoDuration(absl::Hours(2)),
                           "timeout: at most 1h, got 2h"),
      WaitReadyWithTimeout("WaitReadyWithMalformedTimeout", RawDuration(2, -3),
                           "timeout: malformed Duration {seconds: 2, nanos: -3}"),
  };
}

struct BadRequestCase {
  Mode mode;
  BadRequest request;
};

std::vector<BadRequestCase> BadRequestCases() {
  std::vector<BadRequestCase> cases;
  for (Mode mode : {Mode::kExec, Mode::kInProcess}) {
    for (BadRequest& request : BadRequests()) {
      if (mode == Mode::kExec && request.covered_for_exec) continue;
      cases.push_back({mode, std::move(request)});
    }
  }
  return cases;
}

void PrintTo(const BadRequestCase& c, std::ostream* os) { *os << ModeName(c.mode) << " " << c.request.scenario; }

class BadControlRequestTest : public ::testing::TestWithParam<BadRequestCase> {};

TEST_P(BadControlRequestTest, IsInvalidArgumentNamingTheFieldAndTheServerStaysUp) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(GetParam().mode, "kv")));
  std::unique_ptr<Stub> stub = v1::FixtureControl::NewStub(kv.control_channel());

  EXPECT_THAT(GetParam().request.send(*stub),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().request.message)));

  ExpectStillServing(kv, GetParam().request.scenario);
  // Nothing had started a stop: the ordinary one ends it.
  EXPECT_THAT(kv.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
}

INSTANTIATE_TEST_SUITE_P(EachField, BadControlRequestTest, ::testing::ValuesIn(BadRequestCases()),
                         [](const ::testing::TestParamInfo<BadRequestCase>& info) {
                           return absl::StrCat(ModeName(info.param.mode), "_", info.param.request.scenario);
                         });

// --- Messages over the limit and bytes that are not gRPC ------------------------------

class ControlSocketAbuseTest : public ::testing::TestWithParam<Mode> {};

// Pads `message` with an unknown length-delimited field so that it serializes
// to exactly `size` bytes (field 1000: a 2-byte tag and a 3-byte length).
template <typename Message>
void PadTo(Message* message, size_t size) {
  const size_t overhead = 2 + 3 + message->ByteSizeLong();
  message->GetReflection()->MutableUnknownFields(message)->AddLengthDelimited(1000, std::string(size - overhead, 'x'));
}

TEST_P(ControlSocketAbuseTest, RequestOverTheSixtyFourKibLimitIsResourceExhaustedAndDoesNotStopTheServer) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(GetParam(), "kv")));
  std::unique_ptr<Stub> stub = v1::FixtureControl::NewStub(kv.control_channel());

  // Exactly at the limit: read (the unknown field is ignored) and answered.
  v1::GetStatusRequest at_limit;
  PadTo(&at_limit, kControlMaxMessageBytes);
  ASSERT_EQ(at_limit.ByteSizeLong(), kControlMaxMessageBytes);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::Status status;
    ASSERT_OK(FromGrpc(stub->GetStatus(&context, at_limit, &status), "GetStatus of 64 KiB"));
    EXPECT_THAT(status, IsServing());
  }

  // One byte more, on the call that would stop the server if it were read.
  v1::ShutdownRequest over_limit = WithGrace(absl::ZeroDuration());
  PadTo(&over_limit, kControlMaxMessageBytes + 1);
  ASSERT_EQ(over_limit.ByteSizeLong(), kControlMaxMessageBytes + 1);
  EXPECT_THAT(Shutdown(*stub, over_limit).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr(absl::StrCat("larger than max (", kControlMaxMessageBytes + 1, " vs. ",
                                              kControlMaxMessageBytes, ")"))));

  ExpectStillServing(kv, "a Shutdown of 64 KiB + 1 byte");
  EXPECT_THAT(kv.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
}

// Connects to the Unix socket `path`, writes `bytes`, then reads until the
// peer closes the connection (EOF or reset) or `deadline` passes. What the
// peer sent; DeadlineExceeded if it kept the connection open.
absl::StatusOr<std::string> WriteRawAndAwaitClose(const std::string& path, const std::string& bytes,
                                                  absl::Time deadline) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus(errno, "socket(AF_UNIX)");
  struct sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return absl::InvalidArgumentError("socket path too long");
  memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof address) != 0) {
    return ErrnoStatus(errno, absl::StrCat("connect(", path, ")"));
  }
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = send(fd.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "send");
    sent += static_cast<size_t>(n);
  }
  std::string received;
  for (;;) {
    absl::StatusOr<bool> readable = PollReadable(fd.get(), deadline, path);
    if (!readable.ok()) return readable.status();
    if (!*readable) {
      return absl::DeadlineExceededError(
          absl::StrCat("the server kept the connection open; it sent ", received.size(), " bytes"));
    }
    char buffer[4096];
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return received;
    if (n < 0) return ErrnoStatus(errno, "read");
    received.append(buffer, static_cast<size_t>(n));
  }
}

// The HTTP/2 client connection preface (RFC 9113, section 3.4).
constexpr char kHttp2Preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Garbage {
  std::string scenario;
  std::string bytes;
};

std::vector<Garbage> Garbages() {
  std::string binary;
  for (int i = 0; i < 512; ++i) binary.push_back(static_cast<char>((i * 37 + 11) & 0xff));
  binary[0] = '\0';  // Differs from the preface at the first byte.
  // A DATA frame on stream 0 where the SETTINGS frame must come first.
  std::string bad_frame = kHttp2Preface;
  bad_frame += std::string("\x00\x00\x04\x00\x00\x00\x00\x00\x00", 9) + "junk";
  return {
      {"BinaryNoise", binary},
      {"Http1Request", "GET /fixture.v1.FixtureControl/Shutdown HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"Http2PrefaceThenADataFrameInsteadOfSettings", bad_frame},
  };
}

TEST_P(ControlSocketAbuseTest, BytesThatAreNotGrpcCloseTheirConnectionAndTheServerKeepsAnswering) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(KvOptions(GetParam(), "kv")));
  const std::string socket = UnixSocketPath(kv.control_address());

  for (const Garbage& garbage : Garbages()) {
    SCOPED_TRACE(garbage.scenario);
    // The server closes the connection (an answer in the bytes it sends, if any).
    ASSERT_OK(WriteRawAndAwaitClose(socket, garbage.bytes, absl::Now() + absl::Seconds(10)));
    ASSERT_OK(kv.CheckRunning());
    ExpectStillServing(kv, garbage.scenario);
  }
  EXPECT_THAT(kv.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
}

INSTANTIATE_TEST_SUITE_P(BothModes, ControlSocketAbuseTest, ::testing::Values(Mode::kExec, Mode::kInProcess),
                         [](const ::testing::TestParamInfo<Mode>& info) { return ModeName(info.param); });

// --- The control channel while the server stops --------------------------------------

// A KeyValue.Get of MimicKv's --test_hold_get key: in flight until cancelled.
class HeldGet {
 public:
  HeldGet(const std::shared_ptr<grpc::Channel>& channel, const std::string& key)
      : stub_(example::v1::KeyValue::NewStub(channel)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    example::v1::GetRequest request;
    request.set_key(key);
    call_ = stub_->PrepareAsyncGet(&context_, request, &cq_);
    call_->StartCall();
    call_->ReadInitialMetadata(&metadata_tag_);
    call_->Finish(&response_, &status_, &finish_tag_);
  }

  ~HeldGet() {
    if (!finished_) context_.TryCancel();
    while (!finished_ || !metadata_done_) {
      if (!Next(absl::InfiniteFuture())) break;
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  // OK once the server has the call (its initial metadata arrived).
  absl::Status AwaitInFlight(absl::Time deadline) {
    while (!metadata_done_) {
      if (finished_)
        return absl::FailedPreconditionError(absl::StrCat("the held Get ended: ", status_.error_message()));
      if (!Next(deadline)) return absl::DeadlineExceededError("the held Get is not in flight by the deadline");
    }
    if (finished_) return absl::FailedPreconditionError(absl::StrCat("the held Get ended: ", status_.error_message()));
    return absl::OkStatus();
  }

  // The call's own status once it has ended; DeadlineExceeded if it is still
  // in flight at `deadline`.
  absl::StatusOr<absl::Status> AwaitEnd(absl::Time deadline) {
    while (!finished_) {
      if (!Next(deadline)) return absl::DeadlineExceededError("the held Get is still in flight");
    }
    return FromGrpc(status_);
  }

  void Cancel() { context_.TryCancel(); }

 private:
  // Takes one event; false at the deadline.
  bool Next(absl::Time deadline) {
    void* tag;
    bool ok;
    grpc::CompletionQueue::NextStatus next = cq_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline));
    if (next != grpc::CompletionQueue::GOT_EVENT) return false;
    if (tag == &metadata_tag_) metadata_done_ = true;
    if (tag == &finish_tag_) finished_ = true;
    return true;
  }

  std::unique_ptr<example::v1::KeyValue::Stub> stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<example::v1::GetResponse>> call_;
  example::v1::GetResponse response_;
  grpc::Status status_;
  int metadata_tag_ = 0;
  int finish_tag_ = 0;
  bool metadata_done_ = false;
  bool finished_ = false;
};

constexpr char kHeldKey[] = "held";
// Long enough that the test always ends the drain itself, well before.
constexpr absl::Duration kLongGrace = absl::Seconds(30);

FixtureOptions HoldingKvOptions(std::string name) {
  return KvOptions(Mode::kInProcess, std::move(name), {absl::StrCat("--test_hold_get=", kHeldKey)});
}

TEST(ControlDuringShutdownTest, WhileAnInFlightCallHoldsTheServerDrainingGetStatusSaysSoAndWaitReadyFails) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(HoldingKvOptions("draining")));
  std::unique_ptr<Stub> stub = v1::FixtureControl::NewStub(kv.control_channel());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  HeldGet held(channel, kHeldKey);
  ASSERT_OK(held.AwaitInFlight(absl::Now() + absl::Seconds(10)));

  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse shutdown, Shutdown(*stub, WithGrace(kLongGrace)));
  EXPECT_TRUE(shutdown.initiated());
  EXPECT_EQ(shutdown.state(), v1::DRAINING) << v1::State_Name(shutdown.state());

  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_EQ(status.state(), v1::DRAINING) << v1::State_Name(status.state());
  EXPECT_EQ(status.pid(), kv.pid());

  v1::WaitReadyRequest with_timeout;
  *with_timeout.mutable_timeout() = ToProtoDuration(absl::Seconds(5));
  EXPECT_THAT(WaitReady(*stub, with_timeout), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                       HasSubstr("the server is DRAINING and will not become ready")));
  EXPECT_THAT(
      WaitReady(*stub, v1::WaitReadyRequest()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("the server is DRAINING and will not become ready")));

  // The last in-flight call ends: the drain is over long before the grace.
  held.Cancel();
  ASSERT_OK_AND_ASSIGN(absl::Status ended, held.AwaitEnd(absl::Now() + absl::Seconds(10)));
  EXPECT_THAT(ended, StatusIs(absl::StatusCode::kCancelled));
  ExpectExitedZeroOnItsOwn(kv, absl::Seconds(10), "its last in-flight call ended");
}

TEST(ControlDuringShutdownTest, ShutdownFromTenClientsAtOnceAllSucceedAndExactlyOneInitiatesTheStop) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(HoldingKvOptions("many")));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  // Keeps the control socket up until every Shutdown has been answered.
  HeldGet held(channel, kHeldKey);
  ASSERT_OK(held.AwaitInFlight(absl::Now() + absl::Seconds(10)));

  constexpr int kClients = 10;
  absl::Barrier* start = new absl::Barrier(kClients);  // Deleted by the thread Block() chooses.
  std::vector<absl::StatusOr<v1::ShutdownResponse>> replies(kClients, absl::UnknownError("no reply"));
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      // A connection of its own: a separate client, not a shared subchannel.
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      std::shared_ptr<grpc::Channel> own =
          grpc::CreateCustomChannel(kv.control_address(), grpc::InsecureChannelCredentials(), args);
      bool connected = own->WaitForConnected(absl::ToChronoTime(absl::Now() + kCallDeadline));
      if (start->Block()) delete start;
      if (!connected) {
        replies[i] = absl::UnavailableError("could not connect");
        return;
      }
      std::unique_ptr<Stub> stub = v1::FixtureControl::NewStub(own);
      replies[i] = Shutdown(*stub, WithGrace(kLongGrace));
    });
  }
  for (std::thread& t : clients) t.join();

  int initiated = 0;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_OK(replies[i]) << "client " << i;
    initiated += replies[i]->initiated();
    EXPECT_EQ(replies[i]->state(), v1::DRAINING) << "client " << i << ": " << v1::State_Name(replies[i]->state());
  }
  EXPECT_EQ(initiated, 1);

  // Once more, from the fixture's own channel: OK, and not the one that initiated.
  std::unique_ptr<Stub> stub = v1::FixtureControl::NewStub(kv.control_channel());
  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse again, Shutdown(*stub, WithGrace(kLongGrace)));
  EXPECT_FALSE(again.initiated());
  EXPECT_EQ(again.state(), v1::DRAINING) << v1::State_Name(again.state());

  held.Cancel();
  ASSERT_OK_AND_ASSIGN(absl::Status ended, held.AwaitEnd(absl::Now() + absl::Seconds(10)));
  EXPECT_THAT(ended, StatusIs(absl::StatusCode::kCancelled));
  ExpectExitedZeroOnItsOwn(kv, absl::Seconds(10), "its last in-flight call ended");
}

TEST(ControlDuringShutdownTest, ALaterShutdownWithAShorterGraceBringsTheDeadlineForward) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(HoldingKvOptions("forward")));
  std::unique_ptr<Stub> stub = v1::FixtureControl::NewStub(kv.control_channel());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  HeldGet held(channel, kHeldKey);
  ASSERT_OK(held.AwaitInFlight(absl::Now() + absl::Seconds(10)));

  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse first, Shutdown(*stub, WithGrace(kLongGrace)));
  ASSERT_TRUE(first.initiated());
  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse second, Shutdown(*stub, WithGrace(absl::ZeroDuration())));
  EXPECT_FALSE(second.initiated());

  // "The earlier (earliest) deadline stands" (proto/control.proto): the held
  // call is cancelled within 5 s of a Shutdown with grace 0, not 30 s from
  // now, and the server exits 0.
  ASSERT_OK_AND_ASSIGN(absl::Status ended, held.AwaitEnd(absl::Now() + absl::Seconds(5)));
  EXPECT_THAT(ended, ::testing::Not(IsOk())) << "the held Get cannot succeed: it holds until cancelled";
  ExpectExitedZeroOnItsOwn(kv, absl::Seconds(5), "a Shutdown with grace 0");
}

TEST(ControlDuringShutdownTest, StopAfterSomeoneElsesLongGraceShutdownStillEndsAtTheControlStage) {
  FixtureOptions options = HoldingKvOptions("stop_after");
  options.stop.grace = absl::Milliseconds(200);
  options.stop.steps = {
      StopStep::Control(absl::Seconds(5)),  // Well under the other 30 s grace.
      StopStep::Signal(SIGINT, absl::Seconds(1)),
      StopStep::Signal(SIGKILL, absl::Seconds(10)),
  };
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  std::unique_ptr<Stub> stub = v1::FixtureControl::NewStub(kv.control_channel());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  HeldGet held(channel, kHeldKey);
  ASSERT_OK(held.AwaitInFlight(absl::Now() + absl::Seconds(10)));
  ASSERT_OK_AND_ASSIGN(v1::ShutdownResponse other, Shutdown(*stub, WithGrace(kLongGrace)));
  ASSERT_TRUE(other.initiated());

  // Stop()'s own Shutdown (grace 200ms) brings the deadline forward: no
  // SIGINT, no SIGKILL.
  EXPECT_THAT(kv.Stop(), AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
  ASSERT_OK_AND_ASSIGN(absl::Status ended, held.AwaitEnd(absl::Now() + absl::Seconds(5)));
  EXPECT_THAT(ended, ::testing::Not(IsOk())) << "the held Get cannot succeed: it holds until cancelled";
}

}  // namespace
}  // namespace fixture::reliability
