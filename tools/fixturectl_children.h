// fixturectl's children: the ones the toolkit knows (each server's process,
// CMD) and the others, the orphans it adopts as a child subreaper.
//
// `fixturectl run` is a child subreaper (PR_SET_CHILD_SUBREAPER): a process
// that a server or CMD started and left behind, a daemon that double-forked
// or left its process group with setsid(), is reparented to fixturectl
// instead of init when its parent dies. fixturectl reaps those that exit
// while CMD runs, and once CMD has ended and the servers are stopped, ends
// the rest (SIGTERM, then SIGKILL) and reaps them, so that nothing of a run
// outlives it.
//
// The toolkit reaps its own children by pid (fixture::ChildProcess, waitpid
// on that pid), so these functions never wait for "any child": each takes
// the pids it must leave alone (`known`) and waits on every other child by
// its own pid (waitid(P_PID)). A child is found in
// /proc/self/task/*/children (or, without that file, by the PPid of every
// process in /proc), and signalled through a pidfd opened after checking
// that it is still a child of this process, so a reused pid is never hit.
//
//   BecomeSubreaper();
//   ... CMD runs; on SIGCHLD: ReapExitedChildren(known);
//   std::vector<Leftover> ended = EndChildren({}, absl::Seconds(3));
#ifndef FIXTURE_TOOLS_FIXTURECTL_CHILDREN_H_
#define FIXTURE_TOOLS_FIXTURECTL_CHILDREN_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fixture/launch/exit_info.h"

namespace fixturectl {

// Makes this process a child subreaper. The errno text of prctl(2) if that
// fails.
absl::Status BecomeSubreaper();

// The pids of this process's children: running, or exited and not reaped.
std::vector<pid_t> ListChildren();

// The pid the pidfd `pidfd` refers to (its /proc/self/fdinfo entry), or -1.
pid_t PidOfPidfd(int pidfd);

// Sends `signal` to every child not in `known`. How many it reached.
int SignalOtherChildren(const std::vector<pid_t>& known, int signal);

// Reaps every child not in `known` that has exited, without waiting for any.
// How many it reaped.
int ReapExitedChildren(const std::vector<pid_t>& known);

// A child EndChildren() reaped.
struct Leftover {
  std::string name;  // Its /proc/<pid>/comm.
  fixture::ExitInfo exit;
};

// Ends every child not in `known`, and every orphan reparented to this
// process meanwhile: SIGTERM, up to `term_timeout` for them to exit, then
// SIGKILL (up to 10 s more for a process stuck in the kernel); reaps each.
// Returns those it signalled and reaped (not those found exited already).
std::vector<Leftover> EndChildren(const std::vector<pid_t>& known, absl::Duration term_timeout);

// "3 processes left behind: 4242 (sleep) killed by signal 15 (SIGTERM), ...".
std::string DescribeLeftovers(const std::vector<Leftover>& leftovers);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_CHILDREN_H_
