// RunServerInChild: the first and last code of a child that runs server code
// without exec (a child of the fork server, or of a plain fork).
//
// The child is a fork of a single-threaded process that has never used gRPC,
// so unlike an exec'ed child it may run ordinary code. It still starts from
// the clean slate of launch/forked_child.h (death signal tied to its parent,
// stdio on the log files, the readiness pipe at launch::kReadyFd and every
// other descriptor closed, the signal mask restored, default dispositions),
// applies its environment changes, then runs the server library's Run() and
// exits with its status.
//
//   pid_t pid = fork();
//   if (pid == 0) RunServerInChild(slate, env, "kv", control_address, setup);
#ifndef FIXTURE_FORKSERVER_RUN_IN_CHILD_H_
#define FIXTURE_FORKSERVER_RUN_IN_CHILD_H_

#include <string>

#include "fixture/launch/environment.h"
#include "fixture/launch/forked_child.h"
#include "fixture/server/setup.h"

namespace fixture::forkserver {

// Never returns: _exits with the status of server::Run (126 if the child's
// slate or environment cannot be set up, or its parent is already gone).
// `slate.devnull` may be -1: the child opens /dev/null itself.
[[noreturn]] void RunServerInChild(ChildSlate slate, const EnvironmentChange& env, const std::string& name,
                                   const std::string& control_address, const server::SetupFunction& setup);

}  // namespace fixture::forkserver

#endif  // FIXTURE_FORKSERVER_RUN_IN_CHILD_H_
