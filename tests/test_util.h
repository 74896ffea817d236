// Helpers shared by the fixture tests: a kv_server fixture's options, KeyValue
// calls, and checks on processes through /proc and pidfds. The status, stop
// and Failure matchers are the public ones of fixture/testing.h, which this
// header includes.
//
// Everything here is real: the KeyValue helpers make RPCs to the server
// process, the process checks read /proc or wait on a pidfd with a deadline.
#ifndef FIXTURE_TESTS_TEST_UTIL_H_
#define FIXTURE_TESTS_TEST_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/proto/control.pb.h"
#include "fixture/testing.h"
#include "fixture/third_party/grpc_health/health.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/channel.h"

namespace fixture::testing {

// The workspace path of the example server; a `data` dependency of every test.
inline constexpr char kKvServer[] = "example/kv_server";

// Full method names of the example service, as counted in Status.method_calls.
inline constexpr char kPutMethod[] = "/fixture.example.v1.KeyValue/Put";
inline constexpr char kGetMethod[] = "/fixture.example.v1.KeyValue/Get";

// Options for example/kv_server named `name` with `args`.
FixtureOptions KvOptions(std::string name = "kv", std::vector<std::string> args = {});
// Options for example/attached_server (a main() with its own ServerBuilder,
// attached with server/attach.h), named "attached"; the test needs it in
// its data.
FixtureOptions AttachedKvOptions();

// Options for Debian's redis-server (tools/bazel installs it), a foreign
// server: ready by sd_notify (`--supervised systemd`), nothing saved, its
// files in the fixture's private directory, then `args`.
FixtureOptions RedisOptions(std::vector<std::string> args = {});

// KeyValue.Put / KeyValue.Get over `channel`, each with a 10 s deadline (a
// Get with `timeout` if given).
absl::Status KvPut(const std::shared_ptr<grpc::Channel>& channel, absl::string_view key, absl::string_view value);
absl::StatusOr<std::string> KvGet(const std::shared_ptr<grpc::Channel>& channel, absl::string_view key,
                                  absl::Duration timeout = absl::Seconds(10));

// grpc.health.v1.Health/Check of the overall service ("") over `channel`,
// with a 10 s deadline: the serving status, or the call's status (FromGrpc).
absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> HealthOf(
    const std::shared_ptr<grpc::Channel>& channel);

// Calls counted for `method` in `status.method_calls`; nullopt if not listed.
std::optional<int64_t> CallsOf(const v1::Status& status, absl::string_view method);

// The directory part of a path ("/a/b.sock" -> "/a").
std::string DirName(absl::string_view path);
// Whether anything (file, socket, directory) exists at `path`.
bool PathExists(const std::string& path);

// A TCP socket listening on 127.0.0.1:`port` (0: one the kernel picks),
// bound without SO_REUSEADDR: the port is taken for as long as it lives. The
// errno text of socket/bind/listen.
absl::StatusOr<UniqueFd> ListenOnLoopback(int port = 0);
// The port `listener` is bound to; 0 if getsockname(2) fails.
int PortOf(int listener);
// The private directory of a fixture's control socket, from its gRPC target
// ("unix:/tmp/fixture-Ab12Cd/control.sock" -> "/tmp/fixture-Ab12Cd").
std::string SocketDirOf(absl::string_view control_address);

// A process as /proc/<pid>/stat shows it.
struct ProcInfo {
  char state = '?';  // R, S, D, Z, ...
  pid_t ppid = -1;
};
// nullopt when /proc/<pid> does not exist.
std::optional<ProcInfo> ReadProc(pid_t pid);

// Children of this process that are zombies (exited, not reaped).
std::vector<pid_t> ZombieChildren();

// A failed start left nothing behind (gtest failures otherwise): the child
// its Failure names is reaped, no child of this process is a zombie, and
// the private socket directory of its control address is gone.
void ExpectNothingLeftBehind(const absl::Status& error);

// Success when `pid` is no process of ours any more: /proc/<pid> is gone, or
// (the pid was reused) belongs to a process that is not our child. Fails
// describing the process, e.g. "pid 123 is still a child of this process in
// state Z (zombie: exited but not reaped)".
::testing::AssertionResult IsReaped(pid_t pid);

// Waits on a pidfd of `pid` (any process, not only a child) until it exits or
// `deadline` passes. True once it has exited (a zombie counts, so does a pid
// that no longer exists), false at the deadline.
absl::StatusOr<bool> AwaitExit(pid_t pid, absl::Time deadline);

// Success once `pid` has exited (as AwaitExit() sees it) by `deadline`, or
// within `timeout`; fails saying that it still runs, or why it could not wait.
::testing::AssertionResult ExitsBy(pid_t pid, absl::Time deadline);
::testing::AssertionResult ExitsWithin(pid_t pid, absl::Duration timeout);

// For a server that ends on its own (after `why`): it exits within `within`
// (ExitsWithin), exited 0, and Stop() then says it had already exited. A
// gtest assertion: fails the test, saying which, otherwise.
void ExpectExitedZeroOnItsOwn(Fixture& server, absl::Duration within, absl::string_view why);

}  // namespace fixture::testing

#endif  // FIXTURE_TESTS_TEST_UTIL_H_
