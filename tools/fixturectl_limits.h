// Resource limits in `fixturectl run`: an early check that enough file
// descriptors are free (and threads can be started), and advice for a system call refused for want of a
// resource.
//
// Without the check, too low a `ulimit -n` ends a run in ways that say
// nothing useful: gRPC aborts ("Eventfd wakeup fd is not supported"), or a
// forked child cannot set up its descriptors and exits 126 before it execs,
// which looks like CMD's own status. So Run() first opens as many
// descriptors as the whole run needs (DescriptorsNeeded()) and closes them
// again; if that fails it stops there, with the errno text and what to do.
//
//   if (absl::Status fds = CheckDescriptors(DescriptorsNeeded(2), "with 2 servers"); !fds.ok()) ...
#ifndef FIXTURE_TOOLS_FIXTURECTL_LIMITS_H_
#define FIXTURE_TOOLS_FIXTURECTL_LIMITS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fixturectl {

// Descriptors `run` needs free at its start: kDescriptorsBase, plus
// kDescriptorsPerServer for each server (measured: 1 server needed 18, each
// more 5; the rest is margin). `fixturectl --help` says so.
inline constexpr int kDescriptorsBase = 20;
inline constexpr int kDescriptorsPerServer = 6;
inline int DescriptorsNeeded(int servers) { return kDescriptorsBase + kDescriptorsPerServer * servers; }

// Threads `run` needs at its start: fixturectl's own peak (gRPC's, the fork
// thread, one per server start) with a margin. Too low a `ulimit -u` (for a
// user other than root) otherwise makes gRPC hang or abort in fixturectl.
inline constexpr int kThreadsBase = 12;
inline int ThreadsNeeded(int servers) { return kThreadsBase + servers; }

// OK if `needed` more threads can be started now (they end at once). Else
// ResourceExhausted, like CheckDescriptors().
absl::Status CheckThreads(int needed, absl::string_view what);

// OK if `needed` more descriptors can be opened now (they are closed
// again). Else ResourceExhausted: how many could be, the limit, the errno
// text (EMFILE) and what to do; `what` says what needs them ("`run` with 2
// servers").
absl::Status CheckDescriptors(int needed, absl::string_view what);

// For the message of an error whose cause is the errno text of EMFILE,
// ENFILE, EAGAIN or ENOMEM: "; " + the errno's name and what to do (raise
// `ulimit -n`, `ulimit -u`, ...). "" for any other message.
std::string ResourceAdvice(absl::string_view message);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_LIMITS_H_
