// The fork server's helper process: neither the parent (the test) nor a
// server, but the clean process between them that forks servers on request.
//
// It is forked (and usually re-executed, see fixture/fork_server.h) first
// thing in main(), while the test process is single-threaded and has not
// touched gRPC. It then serves ForkRequests on its socketpair
// (forkserver/wire.h): forks a child that runs a registered server
// (forkserver/run_in_child.h), replies with the child's pid and a pidfd,
// reaps its children and reports their wait status, until the parent goes.
//
// Code here runs in the helper only (or, for HelperExecFor, in the parent
// just before it forks the helper). It obeys the helper's rules: no threads,
// no gRPC, nothing that would make a forked child unsafe.
//
//   BecomeHelperIfAsked();             // in the re-executed copy: never returns
//   HelperExec exec = HelperExecFor(sock, getpid());  // before fork()
#ifndef FIXTURE_FORKSERVER_HELPER_H_
#define FIXTURE_FORKSERVER_HELPER_H_

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace fixture::forkserver {

// Set to 0 in the test's environment: no re-execution (fixture/fork_server.h).
inline constexpr char kReexecEnv[] = "FIXTURE_FORK_SERVER_REEXEC";

// The helper's life: say it serves, then serve requests and reap children
// until the parent goes (EOF on `sock`), then _exit. `child_mask` is the
// signal mask the servers start with.
[[noreturn]] void HelperMain(int sock, pid_t parent, const sigset_t& child_mask);

// In the re-executed helper (its environment says so, for this very
// process): becomes the helper and never returns. Anywhere else (no such
// variable, or one this process merely inherited, which it removes): returns.
void BecomeHelperIfAsked();

// What the helper's execve(2) needs, all allocated before fork().
struct HelperExec {
  std::string path;
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

// The re-execution of this program as the helper on `sock` for `parent`:
// /proc/self/exe with LD_BIND_NOW=1 and the helper's variable. nullopt when
// turned off (kReexecEnv=0) or impossible (no /proc/self/exe).
std::optional<HelperExec> HelperExecFor(int sock, pid_t parent);

}  // namespace fixture::forkserver

#endif  // FIXTURE_FORKSERVER_HELPER_H_
