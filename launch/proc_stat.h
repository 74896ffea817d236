// ProcStat: the fields of /proc/<pid>/stat (proc(5)) this toolkit reads, from
// one parser: the second field, the command name in parentheses, may itself
// hold spaces and parentheses, so the fields after it start past the last ')'.
//
//   std::optional<ProcStat> stat = ReadProcStat(pid);
//   if (stat && stat->state == 'T') { /* stopped */ }
//   std::string states = ThreadStates(pid);  // "SST": one letter a thread
#ifndef FIXTURE_LAUNCH_PROC_STAT_H_
#define FIXTURE_LAUNCH_PROC_STAT_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fixture {

struct ProcStat {
  // 'R' running, 'S' sleeping, 'D' in uninterruptible sleep, 'T' stopped by a
  // signal, 't' stopped by a tracer, 'Z' zombie, 'X' dead, ...
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

// Parses the text of a stat file. nullopt if it is not one.
std::optional<ProcStat> ParseProcStat(absl::string_view text);

// /proc/<pid>/stat, or with `tid` /proc/<pid>/task/<tid>/stat (one thread).
// nullopt for a process (thread) that is gone or whose stat cannot be read.
std::optional<ProcStat> ReadProcStat(pid_t pid, pid_t tid = 0);

// The state letter of every thread of `pid` (/proc/<pid>/task), in the
// order the directory lists them; empty once the process is gone (a zombie
// leader keeps its entry, 'Z').
std::string ThreadStates(pid_t pid);

// True when no thread of `pid` runs: each is stopped ('T', as after
// SIGSTOP) or a zombie ('Z', 'X'); false while one runs, and for a process
// that is gone (no threads listed).
bool AllThreadsStopped(absl::string_view states);

// After a SIGSTOP: waits until AllThreadsStopped(ThreadStates(pid)), or the
// process has exited (`pidfd` polls readable; -1: none, then a process no
// longer listed counts as exited), or `deadline` passes. Polls, with a
// backoff from 20 us to 1 ms: the kernel tells a stop to the parent alone,
// by waitid(2) without a timeout. DeadlineExceeded naming the pid and the
// threads' states (one in 'D', in the kernel, stops when it leaves the
// call); the errno text of poll(2).
absl::Status AwaitThreadsStopped(pid_t pid, int pidfd, absl::Time deadline);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_PROC_STAT_H_
