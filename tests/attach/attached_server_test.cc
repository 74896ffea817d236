// A server with its own main() and grpc::ServerBuilder (example/attached_server,
// two lines of server/attach.h added) under a real fixture: started by
// fork+exec as a fixture::Binary, ready with the port it really bound, its
// calls counted, FixtureControl, health and reflection on the control
// socket, stopped by control Shutdown, SIGTERM and SIGINT; a crash before
// ready reported at once; and, run without a fixture, a plain server with no
// control socket and no signal handler.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/executable_path.h"
#include "fixture/fixture.h"
#include "fixture/launch/environment.h"
#include "fixture/launch/listening_sockets.h"
#include "fixture/launch/protocol.h"
#include "fixture/testing.h"
#include "fixture/third_party/grpc_health/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "tests/role_process.h"
#include "tests/test_util.h"

extern char** environ;

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Property;
using ::testing::SizeIs;

constexpr char kAttachedServer[] = "example/attached_server";

FixtureOptions AttachedOptions(std::string name, std::vector<std::string> args = {}) {
  FixtureOptions options;
  options.name = std::move(name);
  options.program = Binary{kAttachedServer};
  options.args = std::move(args);
  // Kept, to read the server's own stdout.
  options.log_dir = ::testing::TempDir();
  return options;
}

// The server's stdout so far (its log file next to the stderr one).
std::string StdoutOf(const Fixture& fixture) {
  absl::string_view path = fixture.stderr_path();
  if (!absl::ConsumeSuffix(&path, ".stderr.log")) return "(stdout not kept: " + fixture.stderr_path() + ")";
  std::ifstream in(absl::StrCat(path, ".stdout.log"));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// The TCP ports process `pid` listens on, and its Unix socket addresses.
std::vector<int> TcpPortsOf(const std::vector<ListeningSocket>& sockets) {
  std::vector<int> ports;
  for (const ListeningSocket& s : sockets) {
    if (s.kind != ListeningSocket::Kind::kUnix) ports.push_back(s.port);
  }
  return ports;
}
std::vector<std::string> UnixSocketsOf(const std::vector<ListeningSocket>& sockets) {
  std::vector<std::string> paths;
  for (const ListeningSocket& s : sockets) {
    if (s.kind == ListeningSocket::Kind::kUnix) paths.push_back(s.address);
  }
  return paths;
}

// The services server reflection lists on `channel`: one ServerReflectionInfo
// request {list_services: ""}, written and read as bytes (the reflection
// .proto's generated code lives, unexported, in libgrpc++_reflection, which
// this process links; generating it again would clash with it).
absl::StatusOr<std::vector<std::string>> ReflectedServices(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  const grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                         grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(channel.get(), method,
                                                                                            &context));
  // Field 7 (list_services), length-delimited, empty.
  const char request[] = {0x3a, 0x00};
  grpc::Slice slice(request, sizeof(request));
  grpc::ByteBuffer request_bytes(&slice, 1);
  stream->Write(request_bytes);
  stream->WritesDone();
  grpc::ByteBuffer reply;
  const bool got = stream->Read(&reply);
  grpc::Status status = stream->Finish();
  if (!status.ok()) return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (!got) return absl::DataLossError("no ServerReflectionResponse");
  std::vector<grpc::Slice> slices;
  if (!reply.Dump(&slices).ok()) return absl::DataLossError("unreadable ServerReflectionResponse");
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // ServerReflectionResponse.list_services_response (6) is a ListServiceResponse:
  // repeated ServiceResponse service (1), each with string name (1).
  google::protobuf::UnknownFieldSet response;
  if (!response.ParseFromString(bytes)) return absl::DataLossError("malformed ServerReflectionResponse");
  std::vector<std::string> names;
  for (int i = 0; i < response.field_count(); ++i) {
    if (response.field(i).number() != 6) continue;
    google::protobuf::UnknownFieldSet list;
    list.ParseFromString(response.field(i).length_delimited());
    for (int j = 0; j < list.field_count(); ++j) {
      google::protobuf::UnknownFieldSet service;
      service.ParseFromString(list.field(j).length_delimited());
      for (int k = 0; k < service.field_count(); ++k) {
        if (service.field(k).number() == 1) names.push_back(service.field(k).length_delimited());
      }
    }
  }
  return names;
}

TEST(AttachedServerTest, ReadyWithThePortItBoundAndServesKeyValueOnIt) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(AttachedOptions("attached")));
  // One endpoint, "grpc", on the port gRPC picked for "127.0.0.1:0".
  ASSERT_THAT(kv.endpoints(), SizeIs(1));
  const v1::Endpoint& endpoint = kv.endpoints()[0];
  EXPECT_EQ(endpoint.name(), "grpc");
  EXPECT_GT(endpoint.port(), 0);
  EXPECT_EQ(endpoint.address(), absl::StrCat("127.0.0.1:", endpoint.port()));
  // The kernel agrees: the server listens there (and on its control socket).
  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(kv.pid()));
  EXPECT_THAT(TcpPortsOf(sockets), ElementsAre(endpoint.port()));
  EXPECT_THAT(UnixSocketsOf(sockets), ElementsAre(kv.control_address()));

  // A real round trip, through the server's own interceptor, which stays.
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel("grpc"));
  ASSERT_OK(KvPut(channel, "k", "v"));
  EXPECT_THAT(KvGet(channel, "k"), IsOkAndHolds("v"));
  auto stub = example::v1::KeyValue::NewStub(channel);
  grpc::ClientContext context;
  example::v1::GetRequest request;
  request.set_key("k");
  example::v1::GetResponse response;
  ASSERT_TRUE(stub->Get(&context, request, &response).ok());
  auto served_by = context.GetServerTrailingMetadata().find("served-by");
  ASSERT_NE(served_by, context.GetServerTrailingMetadata().end());
  EXPECT_EQ(std::string(served_by->second.data(), served_by->second.size()), "attached_server");

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  printf("fork to ready %s; stop: %s\n", absl::FormatDuration(kv.timeline().fork_to_ready()).c_str(),
         stopped.ToString().c_str());
  EXPECT_THAT(stopped, StoppedCleanly());
  // main() printed the port it was given, and went on after server->Wait().
  EXPECT_THAT(StdoutOf(kv), AllOf(HasSubstr(absl::StrCat("attached_server: listening on port ", endpoint.port())),
                                  HasSubstr("attached_server: stopped")));
}

TEST(AttachedServerTest, GetStatusCountsTheCallsPerMethod) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(AttachedOptions("counted")));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  for (int i = 0; i < 3; ++i) ASSERT_OK(KvPut(channel, absl::StrCat("k", i), "v"));
  for (int i = 0; i < 2; ++i) ASSERT_OK(KvGet(channel, "k0").status());

  ASSERT_OK_AND_ASSIGN(v1::Status status, kv.status());
  EXPECT_THAT(status, IsServing());
  EXPECT_EQ(status.pid(), kv.pid());
  EXPECT_EQ(status.name(), "counted");
  EXPECT_EQ(CallsOf(status, kPutMethod), 3);
  EXPECT_EQ(CallsOf(status, kGetMethod), 2);
  ASSERT_THAT(status.endpoints(), SizeIs(1));
  EXPECT_EQ(status.endpoints(0).address(), kv.endpoints()[0].address());
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(AttachedServerTest, ControlSocketServesHealthAndReflection) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(AttachedOptions("discoverable")));
  EXPECT_THAT(HealthOf(kv.control_channel()), IsOkAndHolds(grpc::health::v1::HealthCheckResponse::SERVING));
  EXPECT_THAT(ReflectedServices(kv.control_channel()),
              IsOkAndHolds(AllOf(Contains("fixture.v1.FixtureControl"), Contains("grpc.health.v1.Health"))));
  // The server under test is left as its code built it: no health service
  // added to it. (Reflection it has, as every server of a process that links
  // gRPC's grpc++_reflection, fixture or not.)
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  EXPECT_THAT(HealthOf(channel), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(ReflectedServices(channel), IsOkAndHolds(Contains("fixture.example.v1.KeyValue")));
  EXPECT_THAT(kv.Stop(), StoppedCleanly());
}

TEST(AttachedServerTest, ControlShutdownStopsTheServerCleanlyWithAClientConnected) {
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(AttachedOptions("stopped")));
  const pid_t pid = kv.pid();
  const std::string dir = SocketDirOf(kv.control_address());
  // The test keeps its channel open: the stop must not wait for it.
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "k", "v"));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, AllOf(StoppedBy(StopStage::kControl), StoppedCleanly()));
  EXPECT_TRUE(stopped.exit.success()) << stopped.ToString();
  EXPECT_TRUE(IsReaped(pid));
  EXPECT_FALSE(PathExists(dir));
  // Stopped by Wait() returning in main(), not forced out.
  EXPECT_THAT(StdoutOf(kv), HasSubstr("attached_server: stopped"));
  EXPECT_THAT(kv.StderrTail(), Not(HasSubstr("still running")));
  // The server is gone: its port with it.
  EXPECT_THAT(KvPut(channel, "late", "v"), StatusIs(absl::StatusCode::kUnavailable));
}

class AttachedServerSignalTest : public ::testing::TestWithParam<int> {};

TEST_P(AttachedServerSignalTest, StopSignalIsTheServersOwnCleanShutdown) {
  const int signal = GetParam();
  FixtureOptions options = AttachedOptions(absl::StrCat("signalled_", sigabbrev_np(signal)));
  options.stop.steps = {StopStep::Signal(signal, absl::Seconds(10)), StopStep::Signal(SIGKILL, absl::Seconds(10))};
  ASSERT_OK_AND_ASSIGN(Fixture kv, Fixture::Start(options));
  const std::string dir = SocketDirOf(kv.control_address());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, kv.channel());
  ASSERT_OK(KvPut(channel, "k", "v"));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, kv.Stop());
  EXPECT_THAT(stopped, AllOf(StoppedBySignal(signal), StoppedCleanly()));
  EXPECT_FALSE(stopped.exit.signaled) << stopped.ToString();  // It exited, status 0.
  EXPECT_THAT(kv.StderrTail(), HasSubstr(absl::StrCat("SIG", sigabbrev_np(signal), " received: stopping")));
  EXPECT_THAT(StdoutOf(kv), HasSubstr("attached_server: stopped"));
  EXPECT_FALSE(PathExists(dir));
}

INSTANTIATE_TEST_SUITE_P(Signals, AttachedServerSignalTest, ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) { return sigabbrev_np(info.param); });

TEST(AttachedServerTest, CrashBeforeReadyIsReportedAtOnce) {
  FixtureOptions options = AttachedOptions("crashy", {"--crash_before_start"});
  options.ready_timeout = absl::Seconds(60);  // Not what ends the wait: the pipe's EOF does.
  absl::StatusOr<Fixture> kv = Fixture::Start(options);
  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr("killed by signal 6 (SIGABRT)"), HasSubstr("before it was ready"),
                                 HasSubstr("crashing before start as --crash_before_start asks"))));
  EXPECT_THAT(kv, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessKilledBy(SIGABRT))));
}

TEST(AttachedServerTest, AnAddressItCannotListenOnFailsTheStartWithItsMessage) {
  absl::StatusOr<Fixture> kv = Fixture::Start(AttachedOptions("unlistenable", {"--address=256.0.0.1:0"}));
  EXPECT_THAT(kv, StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr("exited with status 1 before it was ready"),
                                 HasSubstr("the server's BuildAndStart() failed"),
                                 HasSubstr("attached_server: cannot serve on 256.0.0.1:0"))));
  EXPECT_THAT(kv, CarriesFailure(AllOf(FailureAt(v1::Failure::START, v1::Failure::EXITED), ProcessExitedWith(1))));
}

// SigCgt of /proc/<pid>/status: the signals the process has a handler for.
absl::StatusOr<uint64_t> CaughtSignals(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    uint64_t mask = 0;
    if (absl::ConsumePrefix(&rest, "SigCgt:") && absl::SimpleHexAtoi(absl::StripAsciiWhitespace(rest), &mask)) {
      return mask;
    }
  }
  return absl::NotFoundError(absl::StrCat("no SigCgt in /proc/", pid, "/status"));
}

TEST(AttachedServerTest, WithoutAFixtureItIsAPlainServer) {
  ASSERT_OK_AND_ASSIGN(std::string path, FindExecutable(kAttachedServer));
  // As from a shell: no launch variables, stdout a pipe.
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  RoleProcess server;
  server.from_stdout.reset(out[0]);
  UniqueFd child_out(out[1]);
  std::vector<std::string> env = ChildEnvironment(
      environ,
      {.unset = {launch::kControlAddressEnv, launch::kReadyFdEnv, launch::kNameEnv}, .unset_prefixes = {"FIXTURE_"}});
  std::vector<char*> envp;
  for (std::string& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_out.get(), STDOUT_FILENO);
  char* argv[] = {path.data(), nullptr};
  int error = posix_spawn(&server.pid, path.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ASSERT_EQ(error, 0) << strerror(error);
  child_out.reset();

  absl::StatusOr<std::string> line = ReadLine(server.from_stdout.get(), absl::Now() + absl::Seconds(30));
  if (!line.ok()) kill(server.pid, SIGKILL);
  ASSERT_OK(line.status());
  absl::string_view port_text = *line;
  int port = 0;
  ASSERT_TRUE(absl::ConsumePrefix(&port_text, "attached_server: listening on port ") &&
              absl::SimpleAtoi(port_text, &port) && port > 0)
      << *line;

  // It serves, on the port it printed.
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  EXPECT_OK(KvPut(channel, "k", "v"));
  EXPECT_THAT(KvGet(channel, "k"), IsOkAndHolds("v"));
  // Nothing of the fixture's: no control socket (no Unix socket at all), no
  // handler for SIGINT or SIGTERM.
  absl::StatusOr<std::vector<ListeningSocket>> sockets = ListeningSockets(server.pid);
  ASSERT_OK(sockets.status());
  EXPECT_THAT(TcpPortsOf(*sockets), ElementsAre(port));
  EXPECT_THAT(UnixSocketsOf(*sockets), IsEmpty());
  absl::StatusOr<uint64_t> caught = CaughtSignals(server.pid);
  ASSERT_OK(caught.status());
  EXPECT_EQ(*caught & (1ull << (SIGINT - 1)), 0u) << "a SIGINT handler";
  EXPECT_EQ(*caught & (1ull << (SIGTERM - 1)), 0u) << "a SIGTERM handler";

  // So SIGTERM has its default action.
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  ASSERT_OK_AND_ASSIGN(ExitInfo ended, WaitForRole(server));
  EXPECT_TRUE(ended.signaled && ended.signal == SIGTERM) << ended.ToString();
}

}  // namespace
}  // namespace fixture::testing
