#include "fixture/forkserver/helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fixture/forkserver/fork_server.pb.h"
#include "fixture/forkserver/run_in_child.h"
#include "fixture/forkserver/wire.h"
#include "fixture/launch/clock_calibration.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/fork_safety.h"
#include "fixture/launch/pidfd.h"
#include "fixture/server/registry.h"

extern char** environ;

namespace fixture::forkserver {
namespace {

using internal::ForkRequest;
using internal::ForkServerEvent;

// Set in the environment of the re-executed helper: "SOCKET_FD,PARENT_PID,B",
// B = 1 when LD_BIND_NOW was added for it (and is to be taken out again).
constexpr char kHelperEnv[] = "FIXTURE_FORK_SERVER";
// The re-executed helper's exit status when it finds it cannot serve.
constexpr int kForkServerUnsafeExit = 3;

void Reply(int sock, const ForkServerEvent& event, const std::vector<int>& fds = {}) {
  if (!SendMessage(sock, event, fds).ok()) _exit(0);  // The parent is gone.
}

void ReplyError(int sock, uint64_t id, const absl::Status& error) {
  ForkServerEvent reply;
  reply.mutable_forked()->set_id(id);
  reply.mutable_forked()->set_error_code(static_cast<int>(error.code()));
  reply.mutable_forked()->set_error(std::string(error.message()));
  Reply(sock, reply);
}

void HelperForks(int sock, const ForkRequest& request, std::vector<UniqueFd> fds, const sigset_t& child_mask) {
  absl::StatusOr<server::RegisteredServer> code = server::FindRegisteredServer(request.server());
  if (!code.ok()) return ReplyError(sock, request.id(), code.status());
  if (fds.size() != kRequestFds) {
    return ReplyError(sock, request.id(),
                      absl::InvalidArgumentError(
                          absl::StrCat("a ForkRequest carries ", kRequestFds, " descriptors, got ", fds.size())));
  }
  ChildSlate slate;
  slate.parent = getpid();
  slate.stdio = {-1, fds[1].get(), fds[2].get(), fds[0].get()};
  slate.signal_mask = &child_mask;
  const EnvironmentChange env = EnvironmentOf(request);
  std::vector<std::string> args(request.args().begin(), request.args().end());
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    RunServerInChild(slate, env, request.name(), request.control_address(),
                     [&](server::ServerSetup& setup) { return (*code)(setup, args); });
  }
  if (pid < 0) return ReplyError(sock, request.id(), ErrnoStatus(errno, "fork()"));
  setpgid(pid, pid);  // As the child does: the group exists whoever runs first.
  ForkServerEvent reply;
  reply.mutable_forked()->set_id(request.id());
  reply.mutable_forked()->set_pid(pid);
  UniqueFd pidfd = OpenPidfd(pid);
  Reply(sock, reply, pidfd ? std::vector<int>{pidfd.get()} : std::vector<int>{});
}

void HelperReaps(int sock) {
  for (;;) {
    // Look first (WNOWAIT): while the exited server is a zombie its group is
    // its own, and what is left of the group goes before the server is reaped.
    siginfo_t info = {};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (info.si_pid <= 0) return;
    kill(-info.si_pid, SIGKILL);
    int status = 0;
    pid_t pid = waitpid(info.si_pid, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    ForkServerEvent event;
    event.mutable_exited()->set_pid(pid);
    event.mutable_exited()->set_wait_status(status);
    Reply(sock, event);
  }
}

// One request: received, parsed and answered (a bad one with an error, after
// which the helper serves on). False at EOF: the parent is gone.
bool HelperServesOne(int sock, const sigset_t& child_mask) {
  std::string bytes;
  std::vector<UniqueFd> fds;
  absl::StatusOr<bool> received = ReceiveMessage(sock, &bytes, &fds);
  ForkRequest request;
  if (received.ok() && *received && !request.ParseFromString(bytes)) {
    received = absl::DataLossError("a ForkRequest that does not parse");
  }
  if (!received.ok()) {  // Answer it (the parent checks sizes first); serve on.
    ReplyError(sock, 0, absl::Status(received.status().code(), received.status().ToString()));
    return true;
  }
  if (!*received) return false;
  HelperForks(sock, request, std::move(fds), child_mask);
  return true;
}

}  // namespace

void HelperMain(int sock, pid_t parent, const sigset_t& child_mask) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(0);
  prctl(PR_SET_NAME, "fixture-forksrv");
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  UniqueFd sigfd(signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) _exit(1);
  ForkServerEvent hello;
  hello.mutable_serving();
  Reply(sock, hello);
  // Once here, and every child inherits the result (launch/clock_calibration.h).
  CalibrateAbseilClock();
  for (;;) {
    struct pollfd pfds[2] = {{sock, POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
    if (poll(pfds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (pfds[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(sigfd.get(), &info, sizeof info) > 0) {
      }
      HelperReaps(sock);
    }
    // EOF: the parent is gone. Our children follow us by their death signal.
    if ((pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !HelperServesOne(sock, child_mask)) _exit(0);
  }
}

std::optional<HelperExec> HelperExecFor(int sock, pid_t parent) {
  if (const char* reexec = getenv(kReexecEnv); reexec != nullptr && strcmp(reexec, "0") == 0) return std::nullopt;
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return std::nullopt;
  HelperExec exec;
  exec.path.assign(path, static_cast<size_t>(n));
  // ld.so binds eagerly for any non-empty value.
  const char* bind_now = getenv("LD_BIND_NOW");
  const bool bind_now_set = bind_now != nullptr && *bind_now != '\0';
  exec.strings.push_back(exec.path);
  exec.strings.push_back(absl::StrCat(kHelperEnv, "=", sock, ",", parent, ",", bind_now_set ? 0 : 1));
  if (!bind_now_set) exec.strings.push_back("LD_BIND_NOW=1");
  exec.argv = {exec.strings[0].data(), nullptr};
  for (size_t i = 1; i < exec.strings.size(); ++i) exec.envp.push_back(exec.strings[i].data());
  const std::string ours = absl::StrCat(kHelperEnv, "=");
  for (char** e = environ; *e != nullptr; ++e) {
    if (absl::StartsWith(*e, ours) || (!bind_now_set && absl::StartsWith(*e, "LD_BIND_NOW="))) continue;
    exec.envp.push_back(*e);
  }
  exec.envp.push_back(nullptr);
  return exec;
}

void BecomeHelperIfAsked() {
  const char* value = getenv(kHelperEnv);
  if (value == nullptr) return;
  int sock = -1;
  long parent = -1;
  int added_bind_now = 0;
  bool ours = sscanf(value, "%d,%ld,%d", &sock, &parent, &added_bind_now) == 3 && getppid() == parent;
  int type = 0;
  socklen_t length = sizeof type;
  ours = ours && getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_SEQPACKET;
  unsetenv(kHelperEnv);
  if (!ours) {
    fprintf(stderr, "fixture: ignoring %s=%s: it was not set for this process\n", kHelperEnv, value);
    return;
  }
  fcntl(sock, F_SETFD, FD_CLOEXEC);
  // The servers it forks must not pass these on to what they start.
  if (added_bind_now == 1) unsetenv("LD_BIND_NOW");
  if (absl::Status safe = CheckForkWithoutExecIsSafe(); !safe.ok()) {
    // The copy's static initialisers did what the original's did not. The
    // parent sees EOF instead of our hello and forks a plain helper.
    fprintf(stderr, "fixture fork server (pid %d): cannot serve: %s\n", getpid(), safe.ToString().c_str());
    _exit(kForkServerUnsafeExit);
  }
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  HelperMain(sock, static_cast<pid_t>(parent), mask);
}

}  // namespace fixture::forkserver
