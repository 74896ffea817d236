#include "fixture/forkserver/run_in_child.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <unistd.h>

#include "fixture/launch/protocol.h"
#include "fixture/server/server.h"

namespace fixture::forkserver {

void RunServerInChild(ChildSlate slate, const EnvironmentChange& env, const std::string& name,
                      const std::string& control_address, const server::SetupFunction& setup) {
  // What the parent had buffered but not written is the parent's to write.
  __fpurge(stdout);
  __fpurge(stderr);
  if (slate.devnull < 0) slate.devnull = open("/dev/null", O_RDWR);
  const bool has_ready = slate.stdio.ready >= 0;
  if (slate.devnull < 0 || !PrepareForkedChild(slate) || !ApplyEnvironment(env).ok()) _exit(126);

  server::RunOptions options;
  options.name = name;
  options.control_address = control_address;
  options.ready_fd = has_ready ? launch::kReadyFd : -1;
  options.exit_when_finished = true;  // Nothing of this process is left to run after the stop.
  int status = server::Run(options, setup);
  fflush(stdout);
  fflush(stderr);
  _exit(status);  // Not exit(): the parent's atexit handlers are not ours to run.
}

}  // namespace fixture::forkserver
