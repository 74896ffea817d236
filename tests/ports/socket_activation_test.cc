// Socket activation through the exec path (LaunchSpec.activation,
// launch/forked_child.h): a reserved port, listening, handed to a real
// socket-activated server (python3, sd_listen_fds(3) by hand) at fd 3 with
// LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES; a connection made before the
// server even started is served. And a launch-protocol server given a
// socket too: its readiness pipe comes after the sockets.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/executable_path.h"
#include "fixture/fixture.h"
#include "fixture/launch/listening_sockets.h"
#include "fixture/launch/protocol.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/launch_spec.h"
#include "fixture/ports.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/ports/loopback_client.h"
#include "tests/ports/scratch_dir.h"
#include "tests/test_util.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture::testing {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kTimeout = absl::Seconds(30);

// A pipe for the child's stdout and stderr, read at the end for messages.
struct OutputPipe {
  UniqueFd read_end, write_end;
  static OutputPipe Make() {
    int fds[2] = {-1, -1};
    if (pipe2(fds, O_CLOEXEC) != 0) return {};
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
  }
  // What the child wrote (after it exited: read until EOF).
  std::string Drain() {
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = read(read_end.get(), buffer, sizeof buffer)) > 0;) text.append(buffer, n);
    return text;
  }
};

TEST(SocketActivationTest, ServerGetsTheListeningSocketsNamedWithItsOwnPid) {
  ASSERT_OK_AND_ASSIGN(std::string script, FindExecutable("tests/ports/activated_http_server.py"));
  ASSERT_OK_AND_ASSIGN(PortReservation http, PortReservation::Reserve("http"));
  ASSERT_OK_AND_ASSIGN(PortReservation admin, PortReservation::Reserve("admin"));
  ASSERT_OK(http.Listen());
  ASSERT_OK(admin.Listen());

  // Race-free: the port listens before the server runs, so a client may
  // connect at once; the kernel queues it for the server.
  ASSERT_OK_AND_ASSIGN(UniqueFd early, SendHttpGet(http.port()));

  OutputPipe output = OutputPipe::Make();
  ASSERT_TRUE(output.read_end.valid()) << strerror(errno);
  LaunchSpec spec;
  spec.program = Binary{"/usr/bin/python3"};
  spec.args = {"-u", script};
  spec.stdio = {.out = output.write_end.get(), .err = output.write_end.get()};
  spec.activation = {{"http", http.fd()}, {"admin", admin.fd()}};
  // From an enclosing activation: must not reach the child.
  spec.env.set = {{"LISTEN_FDS", "7"}};
  ASSERT_OK_AND_ASSIGN(ChildProcess child, Launch(spec));
  output.write_end.reset();
  // The child has its copies; the parent's go.
  http.Release();
  admin.Release();

  ASSERT_OK_AND_ASSIGN(std::string reply, ReadUntilClosed(early.get(), absl::Now() + kTimeout));
  EXPECT_THAT(reply, StartsWith("HTTP/1.0 200"));
  EXPECT_THAT(reply, HasSubstr(absl::StrCat("\"listen_pid\": \"", child.pid(), "\"")));
  EXPECT_THAT(reply, HasSubstr(absl::StrCat("\"pid\": ", child.pid(), ",")));
  EXPECT_THAT(reply, HasSubstr("\"listen_fds\": 2,"));
  EXPECT_THAT(reply, HasSubstr("\"names\": [\"http\", \"admin\"]"));
  EXPECT_THAT(reply, HasSubstr("\"listening\": [true, true]"));
  // fd 5, after the two sockets, is closed (no readiness pipe, nothing leaked).
  EXPECT_THAT(reply, HasSubstr("\"next_fd_open\": false"));
  EXPECT_THAT(reply, HasSubstr("\"served_by\": \"http\""));

  ASSERT_OK_AND_ASSIGN(UniqueFd second, SendHttpGet(admin.port()));
  ASSERT_OK_AND_ASSIGN(std::string admin_reply, ReadUntilClosed(second.get(), absl::Now() + kTimeout));
  EXPECT_THAT(admin_reply, HasSubstr("\"served_by\": \"admin\""));

  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(child.pid()));
  EXPECT_THAT(sockets, Contains(Field(&ListeningSocket::port, http.port())));
  EXPECT_THAT(sockets, Contains(Field(&ListeningSocket::port, admin.port())));

  ASSERT_OK(child.Signal(SIGTERM));
  ASSERT_OK_AND_ASSIGN(std::optional<ExitInfo> exit, child.WaitUntil(absl::Now() + kTimeout));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->ToString() << "\n" << output.Drain();
}

// The same through the public API: FixtureOptions.socket_activation hands
// the reserved ports over listening, in the order of `ports`; the endpoints
// are the reserved addresses; the server stops by SIGTERM, cleanly.
TEST(SocketActivationTest, AFixtureHandsItsReservedPortsOverListening) {
  ASSERT_OK_AND_ASSIGN(std::string script, FindExecutable("tests/ports/activated_http_server.py"));
  FixtureOptions options;
  options.name = "web";
  options.program = Binary{"/usr/bin/python3"};
  options.args = {"-u", script};
  options.ports = {"http", "admin"};
  options.socket_activation = true;
  options.ready = ReadyByLog{"activated_http_server: serving"};
  ASSERT_OK_AND_ASSIGN(Fixture web, Fixture::Start(options));
  ASSERT_OK_AND_ASSIGN(std::string http, web.endpoint("http"));
  ASSERT_OK_AND_ASSIGN(std::string admin, web.endpoint("admin"));
  int http_port = 0, admin_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(http.substr(http.rfind(':') + 1), &http_port)) << http;
  ASSERT_TRUE(absl::SimpleAtoi(admin.substr(admin.rfind(':') + 1), &admin_port)) << admin;

  ASSERT_OK_AND_ASSIGN(UniqueFd get, SendHttpGet(http_port));
  ASSERT_OK_AND_ASSIGN(std::string reply, ReadUntilClosed(get.get(), absl::Now() + kTimeout));
  EXPECT_THAT(reply, StartsWith("HTTP/1.0 200"));
  EXPECT_THAT(reply, HasSubstr(absl::StrCat("\"listen_pid\": \"", web.pid(), "\"")));
  EXPECT_THAT(reply, HasSubstr("\"names\": [\"http\", \"admin\"]"));
  EXPECT_THAT(reply, HasSubstr("\"listening\": [true, true]"));
  EXPECT_THAT(reply, HasSubstr("\"served_by\": \"http\""));
  ASSERT_OK_AND_ASSIGN(UniqueFd second, SendHttpGet(admin_port));
  ASSERT_OK_AND_ASSIGN(std::string admin_reply, ReadUntilClosed(second.get(), absl::Now() + kTimeout));
  EXPECT_THAT(admin_reply, HasSubstr("\"served_by\": \"admin\""));

  // A restart hands the same ports over again, listening, to the new
  // process: the same two sockets in the same order, nothing left of the
  // last process's.
  const pid_t old_pid = web.pid();
  ASSERT_OK_AND_ASSIGN(StopResult old, web.Restart());
  EXPECT_TRUE(old.clean()) << old.ToString();
  EXPECT_NE(web.pid(), old_pid);
  EXPECT_THAT(web.endpoint("http"), IsOkAndHolds(http));
  ASSERT_OK_AND_ASSIGN(UniqueFd again, SendHttpGet(http_port));
  ASSERT_OK_AND_ASSIGN(std::string restarted, ReadUntilClosed(again.get(), absl::Now() + kTimeout));
  EXPECT_THAT(restarted, HasSubstr(absl::StrCat("\"listen_pid\": \"", web.pid(), "\"")));
  EXPECT_THAT(restarted, HasSubstr("\"names\": [\"http\", \"admin\"]"));
  EXPECT_THAT(restarted, HasSubstr("\"listening\": [true, true]"));

  ASSERT_OK_AND_ASSIGN(StopResult stopped, web.Stop());
  EXPECT_TRUE(stopped.clean()) << stopped.ToString();
}

TEST(SocketActivationTest, FixtureOptionsThatCannotBeActivatedAreRefused) {
  FixtureOptions options;
  options.program = Binary{"/usr/bin/python3"};
  options.ready = ReadyByLog{"x"};
  options.socket_activation = true;
  EXPECT_THAT(Fixture::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("FixtureOptions.socket_activation: hands over the reserved ports, but `ports`")));
  options.ports = {"http"};
  options.ready = ReadyByTcp{"http"};
  EXPECT_THAT(Fixture::Start(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("FixtureOptions.ready: tcp readiness cannot tell")));
  options.ready = ReadyByLaunch{};
  options.program = Registered{"NoSuchServer"};
  EXPECT_THAT(Fixture::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("FixtureOptions.socket_activation: is done by "
                                                                     "fork+exec: it needs a Binary")));
}

// Listening, the reservation no longer has SO_REUSEPORT: no process of this
// uid can join the port the server is handed.
TEST(SocketActivationTest, AListeningReservationCannotBeJoined) {
  ASSERT_OK_AND_ASSIGN(PortReservation reservation, PortReservation::Reserve("http"));
  ASSERT_OK(reservation.Listen());
  UniqueFd rival(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  ASSERT_EQ(setsockopt(rival.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on), 0);
  ASSERT_EQ(setsockopt(rival.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(reservation.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(bind(rival.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(errno, EADDRINUSE);
  reservation.Release();
  EXPECT_THAT(reservation.Listen(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// kv_server speaks the launch protocol and ignores LISTEN_FDS: it is still
// ready through its readiness pipe, which it finds at fd 4 (after the one
// socket) by FIXTURE_READY_FD, and holds the socket at fd 3.
TEST(SocketActivationTest, ReadinessPipeComesAfterTheSockets) {
  ASSERT_OK_AND_ASSIGN(std::string kv_server, FindExecutable(kKvServer));
  ScratchDir dir;
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  ASSERT_OK_AND_ASSIGN(PortReservation handed, PortReservation::Reserve("handed"));
  ASSERT_OK(handed.Listen());
  int ready_fds[2];
  ASSERT_EQ(pipe2(ready_fds, O_CLOEXEC), 0);
  UniqueFd ready_read(ready_fds[0]), ready_write(ready_fds[1]);
  OutputPipe output = OutputPipe::Make();
  ASSERT_TRUE(output.read_end.valid()) << strerror(errno);

  LaunchSpec spec;
  spec.program = Binary{kv_server};
  spec.stdio = {.out = output.write_end.get(), .err = output.write_end.get(), .ready = ready_write.get()};
  spec.name = "kv";
  spec.control_address = absl::StrCat("unix:", dir.path(), "/control.sock");
  spec.activation = {{"handed", handed.fd()}};
  ASSERT_OK_AND_ASSIGN(ChildProcess child, Launch(spec));
  ready_write.reset();
  output.write_end.reset();
  handed.Release();

  ASSERT_OK_AND_ASSIGN(launch::Outcome outcome,
                       launch::AwaitReady(ready_read.get(), absl::Now() + kTimeout, child.pidfd()));
  ASSERT_EQ(outcome.kind, launch::Outcome::kReady) << output.Drain();
  ASSERT_OK_AND_ASSIGN(std::vector<ListeningSocket> sockets, ListeningSockets(child.pid()));
  EXPECT_THAT(sockets, Contains(Field(&ListeningSocket::port, handed.port())));

  ASSERT_OK(child.Signal(SIGTERM));
  ASSERT_OK_AND_ASSIGN(std::optional<ExitInfo> exit, child.WaitUntil(absl::Now() + kTimeout));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->ToString() << "\n" << output.Drain();
}

// Without a readiness pipe, Exec learns of a failing execve on a pipe of its
// own, which also comes after the sockets.
TEST(SocketActivationTest, ExecFailureIsStillReported) {
  ASSERT_OK_AND_ASSIGN(PortReservation handed, PortReservation::Reserve("handed"));
  ASSERT_OK(handed.Listen());
  LaunchSpec spec;
  spec.program = Binary{"/nonexistent/server"};
  spec.activation = {{"handed", handed.fd()}};
  EXPECT_THAT(Launch(spec), StatusIs(absl::StatusCode::kNotFound, HasSubstr("execve(/nonexistent/server)")));
}

TEST(SocketActivationTest, BadActivationIsRefusedBeforeAnythingStarts) {
  ASSERT_OK_AND_ASSIGN(PortReservation handed, PortReservation::Reserve("handed"));
  LaunchSpec spec;
  spec.program = Binary{"/bin/true"};
  spec.activation = {{"a:b", handed.fd()}};
  EXPECT_THAT(Launch(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad socket name \"a:b\"")));
  spec.activation = {{"", handed.fd()}};
  EXPECT_THAT(Launch(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad socket name")));
  spec.activation = {{"x", -1}};
  EXPECT_THAT(Launch(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no fd")));
  spec.program = PlainFork{};
  spec.activation = {{"x", handed.fd()}};
  EXPECT_THAT(Launch(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a Binary")));
}

}  // namespace
}  // namespace fixture::testing
