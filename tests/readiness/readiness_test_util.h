// Helpers for the tests of the readiness watches (fixture/ready_watch.h):
// real children started by fork+exec, scratch directories, log files and
// reserved ports.
//
//   ASSERT_OK_AND_ASSIGN(ChildProcess child, StartChild({"/bin/sh", "-c", "exit 3"}));
//   ASSERT_OK_AND_ASSIGN(WatchOutcome outcome, watch->Await(child.pidfd(), Soon()));
#ifndef FIXTURE_TESTS_READINESS_READINESS_TEST_UTIL_H_
#define FIXTURE_TESTS_READINESS_READINESS_TEST_UTIL_H_

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fixture/child_process.h"
#include "fixture/launch/forked_child.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/private_dir.h"
#include "fixture/ready_watch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixture {

// Printed as "kReady (main_pid 0)" by GoogleTest.
void PrintTo(const WatchOutcome& outcome, std::ostream* os);

namespace readiness_test {

// How long a test waits for what must happen (a child that becomes ready or
// dies): far more than it takes, so that only a bug makes it pass.
inline constexpr absl::Duration kLongWait = absl::Seconds(30);
// The deadline of a watch that must time out: the test waits this long.
inline constexpr absl::Duration kShortWait = absl::Milliseconds(300);

// An OK StatusOr<WatchOutcome> of `kind`.
::testing::Matcher<absl::StatusOr<WatchOutcome>> IsOutcome(WatchOutcome::Kind kind);

// A test with a fresh private directory (`dir_`, set up by SetUp(), removed
// with everything in it afterwards), as the fixture gives a watch.
class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override;

  std::optional<PrivateDir> dir_;
};

// Starts `argv` (argv[0]: an absolute path, or a workspace path in the
// runfiles) by fork+exec in a process group of its own, with the parent's
// environment plus `env`, and `stdio` (-1: /dev/null).
absl::StatusOr<ChildProcess> StartChild(const std::vector<std::string>& argv, ChildStdio stdio = {},
                                        std::vector<std::pair<std::string, std::string>> env = {});

// A file opened for the child's output (O_APPEND), already unlinked, as
// fixture/child_logs.h makes them outside `bazel test`.
absl::StatusOr<UniqueFd> UnlinkedLogFile(absl::string_view dir, absl::string_view name);

// A port reserved as fixture/ports.h does: 127.0.0.1:0 bound with
// SO_REUSEADDR, not listening (a connect is refused; a server that sets
// SO_REUSEADDR can bind it).
struct ReservedPort {
  UniqueFd socket;
  int port = 0;
  std::string address() const;
};
absl::StatusOr<ReservedPort> ReservePort();

// What a child's stdin pipe is for: a line written makes it go on.
struct Pipe {
  UniqueFd read;
  UniqueFd write;
};
absl::StatusOr<Pipe> MakePipe();

// Sends a Redis inline command over the unix socket `path` and returns the
// first line of the answer ("+PONG").
absl::StatusOr<std::string> RedisCommand(const std::string& path, absl::string_view command);

}  // namespace readiness_test
}  // namespace fixture

#endif  // FIXTURE_TESTS_READINESS_READINESS_TEST_UTIL_H_
