#include "fixture/launch/proc_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fixture/launch/poll.h"
#include "fixture/launch/unique_fd.h"

namespace fixture {

std::optional<ProcStat> ParseProcStat(absl::string_view text) {
  const size_t paren = text.rfind(')');
  if (paren == absl::string_view::npos) return std::nullopt;
  // ") STATE PPID PGRP ..."
  std::vector<absl::string_view> fields = absl::StrSplit(text.substr(paren + 1), ' ', absl::SkipEmpty());
  ProcStat stat;
  if (fields.size() < 3 || fields[0].size() != 1 || !absl::SimpleAtoi(fields[1], &stat.ppid) ||
      !absl::SimpleAtoi(fields[2], &stat.pgrp)) {
    return std::nullopt;
  }
  stat.state = fields[0][0];
  return stat;
}

std::optional<ProcStat> ReadProcStat(pid_t pid, pid_t tid) {
  const std::string path =
      tid > 0 ? absl::StrCat("/proc/", pid, "/task/", tid, "/stat") : absl::StrCat("/proc/", pid, "/stat");
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  // The fields read come well within the first kilobyte: the name before
  // them is at most 64 bytes.
  char buffer[1024];
  ssize_t n;
  do {
    n = read(fd.get(), buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return std::nullopt;
  return ParseProcStat(absl::string_view(buffer, static_cast<size_t>(n)));
}

std::string ThreadStates(pid_t pid) {
  std::string states;
  DIR* tasks = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (tasks == nullptr) return states;
  while (const dirent* entry = readdir(tasks)) {
    pid_t tid;
    if (!absl::SimpleAtoi(entry->d_name, &tid)) continue;
    // A thread that ended between readdir and open is no longer one.
    if (std::optional<ProcStat> stat = ReadProcStat(pid, tid)) states.push_back(stat->state);
  }
  closedir(tasks);
  return states;
}

bool AllThreadsStopped(absl::string_view states) {
  return !states.empty() && states.find_first_not_of("TZX") == absl::string_view::npos;
}

absl::Status AwaitThreadsStopped(pid_t pid, int pidfd, absl::Time deadline) {
  absl::Duration backoff = absl::Microseconds(20);
  for (;;) {
    if (pidfd >= 0) {
      absl::StatusOr<bool> exited = PollReadable(pidfd, absl::InfinitePast(), absl::StrCat("pidfd of pid ", pid));
      if (!exited.ok()) return exited.status();
      if (*exited) return absl::OkStatus();
    }
    const std::string states = ThreadStates(pid);
    // Gone: with a pidfd, which says so next; without, that is the answer.
    if (AllThreadsStopped(states) || (states.empty() && pidfd < 0)) return absl::OkStatus();
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid, " has not stopped by the deadline: its threads are in states \"", states,
                       "\" (/proc/", pid, "/task/*/stat: R running, S sleeping, D in the kernel, T stopped)"));
    }
    absl::SleepFor(std::min(backoff, deadline - now));
    backoff = std::min(backoff * 2, absl::Milliseconds(1));
  }
}

}  // namespace fixture
