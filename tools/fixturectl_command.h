// CMD in `fixturectl run`: started through fixture::Launch like every
// process of the toolkit, in a process group of its own, so that a signal
// fixturectl forwards, and its SIGKILL when CMD does not exit in time, reach
// everything CMD started.
//
// Two things come with the group:
//  - The terminal. When fixturectl's stdin is a terminal and fixturectl is
//    in its foreground, CMD's group is made the foreground group and then
//    sent SIGCONT (should it have read the terminal first, and been stopped
//    by SIGTTIN), so an interactive CMD works, and Ctrl-C reaches CMD alone;
//    Finish() gives the terminal back.
//  - A watchdog. A process in a group of its own escapes a kill of
//    fixturectl's group (Bazel's, at a timeout), and PR_SET_PDEATHSIG only
//    sends CMD itself a SIGTERM, which it may ignore. So a watchdog process
//    (forked just before CMD, in its own group, only raw system calls) is
//    sent CMD's pid as soon as Launch() returns and then waits on the pipe:
//    EOF without the byte Finish() writes means fixturectl died, and it
//    kills CMD and its group with SIGKILL. It names itself "fixturectl-wd"
//    once it has the pid; before that (the microseconds between CMD's exec
//    and the write) only CMD's parent-death SIGTERM covers a SIGKILL of
//    fixturectl.
//
//   absl::StatusOr<std::unique_ptr<Command>> cmd = Command::Start({"bash", "-c", "..."}, env);
//   ... poll cmd->pidfd() ...; cmd->Signal(SIGTERM);
//   cmd->WaitUntil(absl::InfiniteFuture());
//   cmd->Finish();
#ifndef FIXTURE_TOOLS_FIXTURECTL_COMMAND_H_
#define FIXTURE_TOOLS_FIXTURECTL_COMMAND_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fixture/child_process.h"
#include "fixture/launch/environment.h"
#include "fixture/launch/exit_info.h"
#include "fixture/launch/unique_fd.h"

namespace fixturectl {

class Command {
 public:
  // Starts CMD (`words`: as typed; searched in PATH unless it has a '/')
  // with fixturectl's stdio and `env` applied to fixturectl's environment.
  // NotFound when CMD, or the interpreter its #! line names, does not exist;
  // another code when it cannot be run; each with the message fixturectl
  // prints (with what to do when a limit was in the way).
  static absl::StatusOr<std::unique_ptr<Command>> Start(const std::vector<std::string>& words,
                                                        fixture::EnvironmentChange env);

  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;
  // Finish(); kills (SIGKILL, the group) and reaps CMD if it still runs.
  ~Command();

  pid_t pid() const { return process_.pid(); }
  // Polls readable once CMD has exited; -1 once reaped.
  int pidfd() const { return process_.pidfd(); }
  // fixturectl's children that belong to CMD's run: CMD and the watchdog.
  std::vector<pid_t> pids() const;

  // Sends `signal` to CMD's process group (while CMD is not reaped).
  absl::Status Signal(int signal) { return process_.Signal(signal); }
  // fixture::ChildProcess::WaitUntil.
  absl::StatusOr<std::optional<fixture::ExitInfo>> WaitUntil(absl::Time deadline) {
    return process_.WaitUntil(deadline);
  }

  // Once CMD has ended: gives the terminal back, and ends and reaps the
  // watchdog. Idempotent.
  void Finish();

 private:
  Command() = default;

  fixture::ChildProcess process_;
  // The terminal (fd 0) was given to CMD's group.
  bool terminal_ = false;
  pid_t watchdog_ = -1;
  // The write end of the watchdog's pipe.
  fixture::UniqueFd watchdog_arm_;
};

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_COMMAND_H_
