// SpawnedProcess: a third-party program started by a test (redis-server,
// python3 -m http.server, kv_server standalone), its stdout and stderr read
// from one pipe, so that the test waits for the line that says it is serving
// rather than sleeping.
//
//   ASSERT_OK_AND_ASSIGN(std::unique_ptr<SpawnedProcess> redis,
//                        SpawnedProcess::Start({"/usr/bin/redis-server", "--port", "0", ...}));
//   ASSERT_OK_AND_ASSIGN(std::smatch ready, redis->AwaitOutput("Ready to accept connections", deadline));
//   ...
//   ASSERT_OK_AND_ASSIGN(ExitInfo exit, redis->Stop(SIGTERM));   // else the destructor SIGKILLs it
#ifndef FIXTURE_TESTS_PORTS_SPAWNED_PROCESS_H_
#define FIXTURE_TESTS_PORTS_SPAWNED_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/unique_fd.h"

namespace fixture::testing {

class SpawnedProcess {
 public:
  // posix_spawn of argv[0] (an absolute path) with `argv`, this process's
  // environment, stdin from /dev/null and stdout and stderr into one pipe.
  // `process_group`: -1 keeps this process's group, 0 starts a new group led
  // by the child, > 0 joins that group. The errno text of pipe(2) or
  // posix_spawn(3).
  static absl::StatusOr<std::unique_ptr<SpawnedProcess>> Start(const std::vector<std::string>& argv,
                                                               pid_t process_group = -1);

  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;
  // SIGKILL and reap, if Stop() did not.
  ~SpawnedProcess();

  pid_t pid() const { return pid_; }

  // Reads output until `regex` (ECMAScript) matches a line of it; the
  // capture groups of the match ([0] the whole line). The lines up to the
  // matching one are used up: a later call matches only the lines after it. DeadlineExceeded, or
  // FailedPrecondition at end of output (the child closed it: exited), each
  // with the output so far.
  absl::StatusOr<std::vector<std::string>> AwaitOutput(const std::string& regex, absl::Time deadline);

  // Everything read so far.
  const std::string& output() const { return output_; }

  // Reads the rest of the output (until the child closes it) and reaps the
  // child, by `deadline` (then DeadlineExceeded; the destructor kills it).
  absl::StatusOr<ExitInfo> AwaitExit(absl::Time deadline);

  // Sends `signal` and reaps the child (at most `timeout`, then SIGKILL).
  absl::StatusOr<ExitInfo> Stop(int signal, absl::Duration timeout = absl::Seconds(10));

 private:
  SpawnedProcess(pid_t pid, UniqueFd output) : pid_(pid), output_fd_(std::move(output)) {}

  pid_t pid_;
  bool reaped_ = false;
  UniqueFd output_fd_;
  std::string output_;
  size_t scanned_ = 0;  // output_[0, scanned_) is complete lines already matched against
};

}  // namespace fixture::testing

#endif  // FIXTURE_TESTS_PORTS_SPAWNED_PROCESS_H_
