// PortReservation (fixture/ports.h) with real servers and real rivals: a
// port reserved here is bound and served by a real redis-server and a real
// gRPC server (example/kv_server) while the reservation is held, and an
// unrelated process (port_probe) tries to get it by port-0 binds, connects
// and explicit binds, as this uid and as another. README "Any server" /
// "Ports" states what these tests establish.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fixture/executable_path.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/listening_sockets.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/ports.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/ports/loopback_client.h"
#include "tests/ports/scratch_dir.h"
#include "tests/ports/spawned_process.h"
#include "tests/test_util.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture::testing {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kTimeout = absl::Seconds(30);
// An unprivileged uid for "another user" (nobody).
constexpr int kOtherUid = 65534;

// One redis command in the inline protocol ("SET k v"); the reply, CRLFs
// included ("+OK\r\n", "$1\r\nv\r\n").
absl::StatusOr<std::string> RedisCall(int port, const std::string& command) {
  absl::StatusOr<UniqueFd> fd = ConnectLoopback(port);
  if (!fd.ok()) return fd.status();
  std::string request = command + "\r\n";
  if (write(fd->get(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    return ErrnoStatus(errno, "write(redis)");
  }
  std::string reply;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  // A bulk string ("$N\r\n...\r\n") ends at its second CRLF, the rest at the first.
  auto complete = [&] {
    size_t first = reply.find("\r\n");
    if (first == std::string::npos) return false;
    return reply[0] != '$' || absl::StartsWith(reply, "$-1") || reply.find("\r\n", first + 2) != std::string::npos;
  };
  while (!complete()) {
    absl::StatusOr<bool> readable = PollReadable(fd->get(), deadline, "redis reply");
    if (!readable.ok()) return readable.status();
    if (!*readable) return absl::DeadlineExceededError(absl::StrCat("no reply to ", command, "; so far: ", reply));
    char buffer[512];
    ssize_t n = read(fd->get(), buffer, sizeof buffer);
    if (n <= 0) return ErrnoStatus(n == 0 ? ECONNRESET : errno, "read(redis)");
    reply.append(buffer, static_cast<size_t>(n));
  }
  return reply;
}

using ProbeLine = std::map<std::string, std::string>;

// port_probe with `args`: each line it printed, as key=value pairs.
// FailedPrecondition when it could not take on --uid.
absl::StatusOr<std::vector<ProbeLine>> ProbeLines(const std::vector<std::string>& args) {
  absl::StatusOr<std::string> probe = FindExecutable("tests/ports/port_probe");
  if (!probe.ok()) return probe.status();
  std::vector<std::string> argv = {*probe};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<SpawnedProcess>> process = SpawnedProcess::Start(argv);
  if (!process.ok()) return process.status();
  absl::StatusOr<ExitInfo> exit = (*process)->AwaitExit(absl::Now() + absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  const std::string& output = (*process)->output();
  if (!exit->signaled && exit->code == 3) return absl::FailedPreconditionError(absl::StrCat("port_probe: ", output));
  if (!exit->success()) return absl::InternalError(absl::StrCat("port_probe ", exit->ToString(), ": ", output));
  std::vector<ProbeLine> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    ProbeLine& fields = lines.emplace_back();
    for (absl::string_view pair : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      fields[kv.first] = kv.second;
    }
  }
  return lines;
}

// The same for a command that prints one line.
absl::StatusOr<ProbeLine> Probe(const std::vector<std::string>& args) {
  absl::StatusOr<std::vector<ProbeLine>> lines = ProbeLines(args);
  if (!lines.ok()) return lines.status();
  if (lines->size() != 1) return absl::InternalError(absl::StrCat("port_probe printed ", lines->size(), " lines"));
  return lines->front();
}

// A KeyValue Put and Get round trip to `address`, and process `pid` listens
// there (gRPC listens on an IPv6 socket bound to ::ffff:127.0.0.1, which
// ListeningSockets shows as 127.0.0.1).
void ExpectKeyValueServedAt(const std::string& address, pid_t pid) {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  ASSERT_OK(KvPut(channel, "reserved", "yes"));
  EXPECT_THAT(KvGet(channel, "reserved"), IsOkAndHolds("yes"));
  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(pid));
  EXPECT_THAT(sockets, Contains(Field(&ListeningSocket::address, address)));
}

// Whether this process may become kOtherUid in a child (root outside a user
// namespace that maps only its own uid).
bool CanBecomeOtherUser() {
  absl::StatusOr<std::map<std::string, std::string>> probe =
      Probe({"bind0", "--count=1", absl::StrCat("--uid=", kOtherUid)});
  return probe.ok();
}

TEST(PortReservationTest, BindsLoopbackWithoutListening) {
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("redis"));
  EXPECT_EQ(reservation.name(), "redis");
  EXPECT_GT(reservation.port(), 0);
  EXPECT_EQ(reservation.address(), absl::StrCat("127.0.0.1:", reservation.port()));

  // Nothing listens on it: not among this process's listening sockets, and
  // a connection is refused.
  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> own, ListeningSockets(0));
  EXPECT_THAT(own, Not(Contains(Field(&ListeningSocket::port, reservation.port()))));
  EXPECT_THAT(ConnectLoopback(reservation.port()), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("refused")));

  // Held: a plain bind of the port fails; released (twice: idempotent), it
  // succeeds.
  ASSERT_OK_AND_ASSIGN(auto held, Probe({"bind", absl::StrCat("--port=", reservation.port())}));
  EXPECT_EQ(held["result"], "EADDRINUSE");
  reservation.Release();
  reservation.Release();
  ASSERT_OK_AND_ASSIGN(auto released, Probe({"bind", absl::StrCat("--port=", reservation.port())}));
  EXPECT_EQ(released["result"], "ok");
}

TEST(PortReservationTest, MovedReservationKeepsThePort) {
  ASSERT_OK_AND_ASSIGN(PortReservation first, PortReservation::Reserve("a"));
  int port = first.port();
  PortReservation moved = std::move(first);
  EXPECT_EQ(moved.port(), port);
  ASSERT_OK_AND_ASSIGN(auto held, Probe({"bind", absl::StrCat("--port=", port)}));
  EXPECT_EQ(held["result"], "EADDRINUSE");
}

// redis-server sets SO_REUSEADDR (not SO_REUSEPORT) on its listening sockets.
TEST(PortReservationTest, RedisBindsTheReservedPortAndServesWhileItIsHeld) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("redis"));
  int port = reservation.port();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> redis,
                       SpawnedProcess::Start({"/usr/bin/redis-server", "--port", absl::StrCat(port), "--bind",
                                              "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.path()}));
  ASSERT_OK(redis->AwaitOutput("Ready to accept connections", absl::Now() + kTimeout).status());

  EXPECT_THAT(RedisCall(port, "PING"), IsOkAndHolds("+PONG\r\n"));
  EXPECT_THAT(RedisCall(port, "SET reserved yes"), IsOkAndHolds("+OK\r\n"));
  EXPECT_THAT(RedisCall(port, "GET reserved"), IsOkAndHolds("$3\r\nyes\r\n"));
  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(redis->pid()));
  EXPECT_THAT(sockets, Contains(Field(&ListeningSocket::address, absl::StrCat("127.0.0.1:", port))));

  // While redis listens, even SO_REUSEADDR no longer lets another process
  // bind the port (the reservation's exception is for sockets not listening).
  ASSERT_OK_AND_ASSIGN(auto rival, Probe({"bind", absl::StrCat("--port=", port), "--reuseaddr"}));
  EXPECT_EQ(rival["result"], "EADDRINUSE");

  reservation.Release();
  EXPECT_THAT(RedisCall(port, "GET reserved"), IsOkAndHolds("$3\r\nyes\r\n"));
  ASSERT_OK_AND_ASSIGN(ExitInfo exit, redis->Stop(SIGTERM));
  EXPECT_TRUE(exit.success()) << exit.ToString() << "\n" << redis->output();
}

// example/kv_server: a gRPC server of server/'s, which turns SO_REUSEPORT
// off (GRPC_ARG_ALLOW_REUSEPORT 0): it binds through SO_REUSEADDR.
TEST(PortReservationTest, KvServerBindsTheReservedPortAndServesWhileItIsHeld) {
  ASSERT_OK_AND_ASSIGN(std::string kv_server, FindExecutable(kKvServer));
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("grpc"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> server,
                       SpawnedProcess::Start({kv_server, absl::StrCat("--address=", reservation.address())}));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> serving, server->AwaitOutput("serving:.*", absl::Now() + kTimeout));
  EXPECT_THAT(serving[0], HasSubstr(reservation.address()));

  ASSERT_NO_FATAL_FAILURE(ExpectKeyValueServedAt(reservation.address(), server->pid()));

  // Listening without SO_REUSEPORT: no other process can join the port.
  ASSERT_OK_AND_ASSIGN(auto joiner,
                       Probe({"bind", absl::StrCat("--port=", reservation.port()), "--reuseport", "--listen"}));
  EXPECT_EQ(joiner["result"], "EADDRINUSE");

  ASSERT_OK_AND_ASSIGN(ExitInfo exit, server->Stop(SIGTERM));
  EXPECT_TRUE(exit.success()) << exit.ToString() << "\n" << server->output();
}

// A gRPC server with gRPC's defaults sets SO_REUSEADDR and SO_REUSEPORT.
TEST(PortReservationTest, PlainGrpcServerBindsTheReservedPortAndServesWhileItIsHeld) {
  ASSERT_OK_AND_ASSIGN(std::string plain_server, FindExecutable("tests/ports/plain_grpc_server"));
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("grpc"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> server,
                       SpawnedProcess::Start({plain_server, reservation.address()}));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> listening,
                       server->AwaitOutput(R"(listening on port (\d+))", absl::Now() + kTimeout));
  EXPECT_EQ(listening[1], absl::StrCat(reservation.port()));

  ASSERT_NO_FATAL_FAILURE(ExpectKeyValueServedAt(reservation.address(), server->pid()));

  // Not the reservation's doing, but worth knowing: a server listening with
  // SO_REUSEPORT can be joined by another process of the same uid (IPv4 or
  // IPv6 socket alike), which then gets a share of its connections; of
  // another uid it cannot.
  for (const char* host : {"127.0.0.1", "::ffff:127.0.0.1"}) {
    ASSERT_OK_AND_ASSIGN(auto joiner, Probe({"bind", absl::StrCat("--host=", host),
                                             absl::StrCat("--port=", reservation.port()), "--reuseport", "--listen"}));
    EXPECT_EQ(joiner["result"], "ok") << host;
  }
  if (CanBecomeOtherUser()) {
    ASSERT_OK_AND_ASSIGN(auto stranger, Probe({"bind", absl::StrCat("--port=", reservation.port()), "--reuseport",
                                               "--listen", absl::StrCat("--uid=", kOtherUid)}));
    EXPECT_EQ(stranger["result"], "EADDRINUSE");
  }

  ASSERT_OK_AND_ASSIGN(ExitInfo exit, server->Stop(SIGTERM));
  EXPECT_TRUE(exit.success()) << exit.ToString() << "\n" << server->output();
}

// python3 -m http.server (http.server.HTTPServer sets SO_REUSEADDR).
TEST(PortReservationTest, PythonHttpServerBindsTheReservedPortAndServesWhileItIsHeld) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("http"));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<SpawnedProcess> http,
      SpawnedProcess::Start({"/usr/bin/python3", "-u", "-m", "http.server", absl::StrCat(reservation.port()), "--bind",
                             "127.0.0.1", "--directory", dir.path()}));
  ASSERT_OK(http->AwaitOutput("Serving HTTP on 127\\.0\\.0\\.1 port", absl::Now() + kTimeout).status());

  ASSERT_OK_AND_ASSIGN(UniqueFd connection, SendHttpGet(reservation.port()));
  ASSERT_OK_AND_ASSIGN(std::string reply, ReadUntilClosed(connection.get(), absl::Now() + kTimeout));
  EXPECT_THAT(reply, ::testing::StartsWith("HTTP/1.0 200"));
  // python3 dies of SIGTERM (no handler): stopped, not "cleanly".
  ASSERT_OK_AND_ASSIGN(ExitInfo exit, http->Stop(SIGTERM));
  EXPECT_TRUE(exit.signaled && exit.signal == SIGTERM) << exit.ToString();
}

// Why the reservation sets SO_REUSEADDR too: a port held with SO_REUSEPORT
// alone shuts out redis.
TEST(PortReservationTest, ReusePortAloneShutsOutRedis) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  UniqueFd held(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  ASSERT_EQ(setsockopt(held.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(held.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << strerror(errno);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(held.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  int port = ntohs(address.sin_port);

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> redis,
                       SpawnedProcess::Start({"/usr/bin/redis-server", "--port", absl::StrCat(port), "--bind",
                                              "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.path()}));
  ASSERT_OK_AND_ASSIGN(ExitInfo exit, redis->AwaitExit(absl::Now() + kTimeout));
  EXPECT_FALSE(exit.success());
  EXPECT_THAT(redis->output(), HasSubstr("Address already in use"));
}

// Port-0 binds of another process, a few thousand held at once (so that
// each gets another port) on each address and with each option set: none
// gets the reserved port. (3000 of the ~14,000 ports of the half of the
// range a port-0 bind tries first: a sample, not the whole range; the
// whole range is NetnsExhaustion's.)
TEST(PortReservationTest, PortZeroBindsOfAnotherProcessNeverGetTheReservedPort) {
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("p"));
  std::string avoid = absl::StrCat("--avoid=", reservation.port());
  std::vector<std::string> hosts = {"127.0.0.1", "0.0.0.0"};
  if (UniqueFd fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)); fd) hosts.push_back("::");
  std::vector<std::vector<std::string>> option_sets = {
      {}, {"--reuseaddr"}, {"--reuseport"}, {"--reuseaddr", "--reuseport"}};
  for (const std::string& host : hosts) {
    for (const std::vector<std::string>& options : option_sets) {
      std::vector<std::string> args = {"bind0", "--host=" + host, "--count=3000", avoid};
      args.insert(args.end(), options.begin(), options.end());
      ASSERT_OK_AND_ASSIGN(auto result, Probe(args));
      EXPECT_EQ(result["hits"], "0") << host << " " << absl::StrJoin(options, " ");
      EXPECT_EQ(result["bound"], "3000") << host << " " << absl::StrJoin(options, " ") << " error=" << result["error"];
    }
  }
  if (CanBecomeOtherUser()) {
    ASSERT_OK_AND_ASSIGN(auto other, Probe({"bind0", "--count=3000", avoid, "--reuseaddr", "--reuseport",
                                            absl::StrCat("--uid=", kOtherUid)}));
    EXPECT_EQ(other["hits"], "0");
    EXPECT_EQ(other["bound"], "3000");
  }
}

// connect(2) picks its local port itself, and never one a bind holds.
TEST(PortReservationTest, ConnectsOfAnotherProcessNeverGetTheReservedPort) {
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("p"));
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << strerror(errno);
  ASSERT_EQ(listen(listener.get(), 4096), 0) << strerror(errno);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);

  ASSERT_OK_AND_ASSIGN(auto result, Probe({"connect", absl::StrCat("--port=", ntohs(address.sin_port)), "--count=1000",
                                           absl::StrCat("--avoid=", reservation.port())}));
  EXPECT_EQ(result["hits"], "0");
  EXPECT_EQ(result["connected"], "1000") << result["error"];
}

// Explicit binds of the reserved port by another process: what the kernel
// lets through (the reservation is no lock against them).
TEST(PortReservationTest, ExplicitBindsOfTheReservedPort) {
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("p"));
  std::string port = absl::StrCat("--port=", reservation.port());
  bool other_user = CanBecomeOtherUser();
  struct Case {
    std::vector<std::string> options;
    const char* same_uid;
    const char* other_uid;
  };
  for (const char* host : {"127.0.0.1", "0.0.0.0"}) {
    for (const Case& c : {Case{{}, "EADDRINUSE", "EADDRINUSE"}, Case{{"--reuseaddr"}, "ok", "ok"},
                          Case{{"--reuseport"}, "ok", "EADDRINUSE"}, Case{{"--reuseaddr", "--reuseport"}, "ok", "ok"},
                          // listen(2) right after: the rival then owns the port.
                          Case{{"--reuseaddr", "--listen"}, "ok", "ok"}}) {
      std::vector<std::string> args = {"bind", absl::StrCat("--host=", host), port};
      args.insert(args.end(), c.options.begin(), c.options.end());
      std::string label = absl::StrCat(host, " ", absl::StrJoin(c.options, " "));
      ASSERT_OK_AND_ASSIGN(auto same, Probe(args));
      EXPECT_EQ(same["result"], c.same_uid) << label << " (same uid)";
      if (!other_user) continue;
      args.push_back(absl::StrCat("--uid=", kOtherUid));
      ASSERT_OK_AND_ASSIGN(auto other, Probe(args));
      EXPECT_EQ(other["result"], c.other_uid) << label << " (uid " << kOtherUid << ")";
    }
  }
  if (!other_user) GTEST_SKIP() << "the other-uid half needs root outside a user namespace; same-uid half checked";
}

// The whole ephemeral range, used up in a network namespace of its own (so
// that nothing else on the machine is short of ports): with the default
// net.ipv4.ip_autobind_reuse=0 no port-0 bind on 127.0.0.1 or 0.0.0.0 gets
// the reserved port, whatever its options; one on another address
// (127.0.0.2, [::1]) does. With ip_autobind_reuse=1 a port-0 bind with
// SO_REUSEADDR but not SO_REUSEPORT shares it once the range is used up.
TEST(PortReservationTest, NetnsExhaustion) {
  for (bool autobind_reuse : {false, true}) {
    std::vector<std::string> args = {"netns", "--range=40000:40007"};
    if (autobind_reuse) args.push_back("--autobind_reuse");
    ASSERT_OK_AND_ASSIGN(std::vector<ProbeLine> lines, ProbeLines(args));
    ASSERT_FALSE(lines.empty());
    if (absl::StartsWith(lines[0]["error"], "unshare:")) {
      GTEST_SKIP() << "no network namespace of its own here: " << lines[0]["error"];
    }
    std::map<std::string, ProbeLine> by_options;
    std::string table;
    for (ProbeLine& line : lines) {
      absl::StrAppend(&table, "\n", line["options"], ": bound=", line["bound"], " got_reserved=", line["got_reserved"],
                      " error=", line["error"]);
      by_options[line["options"]] = line;
    }
    std::string label = absl::StrCat(autobind_reuse ? "ip_autobind_reuse=1" : "ip_autobind_reuse=0", table);
    // Never P, and the range used up (EADDRINUSE), whatever the sysctl:
    for (const char* options : {"none", "port", "addr,port", "any:none"}) {
      EXPECT_EQ(by_options[options]["got_reserved"], "0") << options << " " << label;
      EXPECT_EQ(by_options[options]["error"], "EADDRINUSE") << options << " " << label;
    }
    EXPECT_EQ(by_options["connect"]["got_reserved"], "0") << label;
    EXPECT_EQ(by_options["connect"]["error"], "EADDRNOTAVAIL") << label;
    // Another address: the reservation does not cover it.
    EXPECT_EQ(by_options["127.0.0.2:none"]["got_reserved"], "1") << label;
    EXPECT_EQ(by_options["[::1]:none"]["got_reserved"], "1") << label;
    // SO_REUSEADDR without SO_REUSEPORT: shares P only where the sysctl lets
    // port-0 binds share ports at all.
    for (const char* options : {"addr", "any:addr"}) {
      if (autobind_reuse) {
        EXPECT_NE(by_options[options]["got_reserved"], "0") << options << " " << label;
      } else {
        EXPECT_EQ(by_options[options]["got_reserved"], "0") << options << " " << label;
        EXPECT_EQ(by_options[options]["error"], "EADDRINUSE") << options << " " << label;
      }
    }
  }
}

}  // namespace
}  // namespace fixture::testing
