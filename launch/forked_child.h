// The clean slate every forked child starts from, exec'ed or not.
//
// Right after fork(2) a child of the toolkit (a server exec'ed by the parent,
// a server forked by the fork server or by a plain fork, fixturectl's
// command) asks for SIGTERM when the forking thread dies (PR_SET_PDEATHSIG,
// then checks getppid() against the saved parent pid, since a parent that
// died before the prctl would otherwise leave an orphan), gets its stdio and
// the readiness pipe at fixed numbers, every other descriptor closed, default
// signal dispositions and the signal mask it is given, in a process group of
// its own. A socket-activated child (sd_listen_fds(3)) also gets its
// listening sockets at 3, 4, ... and its own pid written into the
// LISTEN_PID entry prepared in the environment it will exec with; its
// readiness pipe, if any, then comes after them. Everything it needs is
// prepared before the fork; PrepareForkedChild() makes async-signal-safe calls
// only.
//
//   ChildSlate slate{.parent = getpid(), .devnull = devnull.get(), .stdio = stdio};
//   pid_t pid = fork();
//   if (pid == 0) {
//     if (!PrepareForkedChild(slate)) _exit(126);
//     execve(...);
//   }
#ifndef FIXTURE_LAUNCH_FORKED_CHILD_H_
#define FIXTURE_LAUNCH_FORKED_CHILD_H_

#include <signal.h>
#include <sys/types.h>

namespace fixture {

// The signal a child receives when the thread that forked it dies.
inline constexpr int kParentDeathSignal = SIGTERM;

// The descriptors a child gets: as stdin (0), stdout (1), stderr (2) and as
// the readiness pipe (launch::kReadyFd, or ReadyFdNumber() with listening
// sockets). Borrowed, never closed by the launch. -1: /dev/null for the
// first three, no readiness pipe for `ready`.
struct ChildStdio {
  int in = -1;
  int out = -1;
  int err = -1;
  int ready = -1;
};

struct ChildSlate {
  // The process that forks the child; the child ends if it is already gone.
  pid_t parent = -1;
  // An open descriptor of /dev/null.
  int devnull = -1;
  ChildStdio stdio;
  // The signal mask to set; nullptr: empty.
  const sigset_t* signal_mask = nullptr;
  // Lead a process group of its own (setpgid(0, 0)), so that a stop or a
  // kill reaches everything the child starts.
  bool own_process_group = true;
  // Socket activation: `listen_fd_count` descriptors (borrowed, at most
  // kMaxListenFds) the child gets at kListenFdsStart, kListenFdsStart + 1,
  // ..., in this order.
  const int* listen_fds = nullptr;
  int listen_fd_count = 0;
  // Where the child writes its own pid, in decimal and NUL-terminated: the
  // value of the "LISTEN_PID=" entry of the envp it will exec with, which
  // has room for kPidDigits characters and the NUL. nullptr: nowhere.
  char* listen_pid_value = nullptr;
};

// SD_LISTEN_FDS_START: the first descriptor of a socket-activated child's
// listening sockets.
inline constexpr int kListenFdsStart = 3;
// The most listening sockets one child gets.
inline constexpr int kMaxListenFds = 32;
// The most decimal digits a pid has (pid_t is 32 bits).
inline constexpr int kPidDigits = 10;

// The descriptor number `slate.stdio.ready` gets in the child:
// launch::kReadyFd (3) without listening sockets, else the one after them.
int ReadyFdNumber(const ChildSlate& slate);

// In a child right after fork(2): asks for kParentDeathSignal when the
// forking thread dies and checks the parent is still `slate.parent`, becomes
// the leader of a new process group (unless told otherwise), installs
// the descriptors (every other one is closed), writes its pid into
// `slate.listen_pid_value`, resets every signal disposition to the default
// and sets the signal mask. Async-signal-safe.
// False if a step failed (the caller should _exit(126)).
bool PrepareForkedChild(const ChildSlate& slate);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_FORKED_CHILD_H_
