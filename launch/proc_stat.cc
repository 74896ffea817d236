#include "launch/proc_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "launch/unique_fd.h"

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

}  // namespace fixture
