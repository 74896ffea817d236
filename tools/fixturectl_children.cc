#include "fixture/tools/fixturectl_children.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fixture/launch/deadline.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/proc_stat.h"
#include "fixture/launch/unique_fd.h"

namespace fixturectl {
namespace {

using fixture::ProcStat;
using fixture::ReadProcStat;
using fixture::UniqueFd;

// How often EndChildren() looks for new orphans while it waits: a process
// whose parent dies is reparented to us without a word.
constexpr absl::Duration kRescanInterval = absl::Milliseconds(20);
// How long a SIGKILLed process may take to go (longer only in state D).
constexpr absl::Duration kKillTimeout = absl::Seconds(10);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Contains(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

// The numbers in a whitespace-separated list, appended to `out`.
void AppendPids(absl::string_view text, std::vector<pid_t>* out) {
  for (absl::string_view word : absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    pid_t pid;
    if (absl::SimpleAtoi(word, &pid) && pid > 0 && !Contains(*out, pid)) out->push_back(pid);
  }
}

// The names of the entries of `dir` that are numbers.
std::vector<std::string> NumericEntries(const char* dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir);
  if (d == nullptr) return names;
  while (struct dirent* entry = readdir(d)) {
    int n;
    if (absl::SimpleAtoi(entry->d_name, &n)) names.emplace_back(entry->d_name);
  }
  closedir(d);
  return names;
}

// The PPid of `pid` (its /proc/<pid>/stat), or -1.
pid_t ParentOf(pid_t pid) {
  std::optional<ProcStat> stat = ReadProcStat(pid);
  return stat ? stat->ppid : -1;
}

// A pidfd of `pid` while it is a child of this process (then its pid cannot
// be reused until we reap it); an empty UniqueFd otherwise.
UniqueFd OpenChild(pid_t pid) {
  UniqueFd pidfd = fixture::OpenPidfd(pid);
  if (!pidfd || ParentOf(pid) != getpid()) return UniqueFd();
  return pidfd;
}

std::string CommandName(pid_t pid) {
  std::string comm = ReadFile(absl::StrCat("/proc/", pid, "/comm"));
  absl::StripTrailingAsciiWhitespace(&comm);
  return comm.empty() ? "?" : comm;
}

// Reaps `pid` if it has exited: its ExitInfo, or nullopt while it runs (or
// if it is no child of ours any more).
std::optional<fixture::ExitInfo> ReapIfExited(pid_t pid) {
  siginfo_t info = {};
  int done;
  do {
    done = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
  } while (done != 0 && errno == EINTR);
  if (done != 0 || info.si_pid != pid) return std::nullopt;
  fixture::ExitInfo exit;
  exit.pid = pid;
  exit.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  exit.core_dumped = info.si_code == CLD_DUMPED;
  (exit.signaled ? exit.signal : exit.code) = info.si_status;
  return exit;
}

}  // namespace

absl::Status BecomeSubreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return fixture::ErrnoStatus(errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  return absl::OkStatus();
}

std::vector<pid_t> ListChildren() {
  std::vector<pid_t> children;
  bool listed = false;
  for (const std::string& tid : NumericEntries("/proc/self/task")) {
    std::ifstream in(absl::StrCat("/proc/self/task/", tid, "/children"));
    if (!in) continue;  // A thread that just ended; or no such file in this kernel.
    listed = true;
    std::stringstream text;
    text << in.rdbuf();
    AppendPids(text.str(), &children);
  }
  if (listed) return children;
  // A kernel without CONFIG_PROC_CHILDREN: every process whose parent we are.
  const pid_t self = getpid();
  for (const std::string& name : NumericEntries("/proc")) {
    pid_t pid;
    if (absl::SimpleAtoi(name, &pid) && pid != self && ParentOf(pid) == self) children.push_back(pid);
  }
  return children;
}

pid_t PidOfPidfd(int pidfd) {
  if (pidfd < 0) return -1;
  for (absl::string_view line : absl::StrSplit(ReadFile(absl::StrCat("/proc/self/fdinfo/", pidfd)), '\n')) {
    pid_t pid;
    if (absl::ConsumePrefix(&line, "Pid:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &pid)) return pid;
  }
  return -1;
}

int SignalOtherChildren(const std::vector<pid_t>& known, int signal) {
  int reached = 0;
  for (pid_t pid : ListChildren()) {
    if (Contains(known, pid)) continue;
    UniqueFd pidfd = OpenChild(pid);
    if (pidfd && fixture::SendSignal(pidfd.get(), signal) == 0) ++reached;
  }
  return reached;
}

int ReapExitedChildren(const std::vector<pid_t>& known) {
  int reaped = 0;
  for (pid_t pid : ListChildren()) {
    if (!Contains(known, pid) && ReapIfExited(pid).has_value()) ++reaped;
  }
  return reaped;
}

std::vector<Leftover> EndChildren(const std::vector<pid_t>& known, absl::Duration term_timeout) {
  struct Child {
    UniqueFd pidfd;
    std::string name;
    int sent = 0;  // The last signal sent.
  };
  std::map<pid_t, Child> live;
  std::vector<Leftover> ended;
  int signal = SIGTERM;
  absl::Time deadline = absl::Now() + term_timeout;
  for (;;) {
    for (pid_t pid : ListChildren()) {
      if (Contains(known, pid) || live.count(pid) > 0) continue;
      UniqueFd pidfd = OpenChild(pid);
      if (pidfd) live.emplace(pid, Child{std::move(pidfd), CommandName(pid)});
    }
    for (auto it = live.begin(); it != live.end();) {
      std::optional<fixture::ExitInfo> exit = ReapIfExited(it->first);
      if (!exit.has_value() && ParentOf(it->first) == getpid()) {
        ++it;
        continue;
      }
      // One that had exited before it got a signal from here was not left running: not reported.
      if (exit.has_value() && it->second.sent != 0) ended.push_back({it->second.name, *exit});
      it = live.erase(it);
    }
    for (auto& [pid, child] : live) {
      if (child.sent != signal && fixture::SendSignal(child.pidfd.get(), signal) == 0) child.sent = signal;
    }
    if (live.empty()) {
      // One more look: an orphan may have come as the last one went.
      bool more = false;
      for (pid_t pid : ListChildren()) more |= !Contains(known, pid);
      if (!more) break;
      continue;
    }
    absl::Time now = absl::Now();
    if (now >= deadline) {
      if (signal == SIGKILL) break;  // Stuck in the kernel: nothing more to do.
      signal = SIGKILL;
      deadline = now + kKillTimeout;
      continue;
    }
    std::vector<struct pollfd> fds;
    for (const auto& [pid, child] : live) fds.push_back({child.pidfd.get(), POLLIN, 0});
    poll(fds.data(), fds.size(), fixture::PollTimeoutMs(std::min(deadline, now + kRescanInterval)));
  }
  return ended;
}

std::string DescribeLeftovers(const std::vector<Leftover>& leftovers) {
  std::vector<std::string> each;
  for (const Leftover& left : leftovers) {
    each.push_back(absl::StrCat(left.exit.pid, " (", left.name, ") ", left.exit.ToString()));
  }
  return absl::StrCat(leftovers.size(), leftovers.size() == 1 ? " process" : " processes",
                      " left behind: ", absl::StrJoin(each, ", "));
}

}  // namespace fixturectl
