// ParentWatch: stops the server when the process that started it has exited,
// through a pidfd of that process. Internal to server/.
//
// Why not PR_SET_PDEATHSIG alone: the kernel sends the death signal when the
// *thread* that forked the child exits, and again each time the child is
// handed on to another thread of the same dying process. A SIGKILLed parent
// with many threads (a test process running gRPC) sends its first death
// signal while some of its threads still run; a server that stopped at once
// then saw getppid() unchanged, took its parent for alive and left its
// process group (a sidecar) running. A pidfd of the parent polls readable
// only once every thread of the parent is gone, and by then this process has
// been reparented, so "the parent has exited" is a fact, not a guess.
//
//   absl::StatusOr<std::unique_ptr<ParentWatch>> watch =
//       ParentWatch::Start(getppid(), &lifecycle, options);
//   if (watch.ok()) prctl(PR_SET_PDEATHSIG, 0);  // the watch replaces it
//   ...
//   if ((*watch)->parent_gone()) EndOrphanedGroup();
#ifndef FIXTURE_SERVER_PARENT_WATCH_H_
#define FIXTURE_SERVER_PARENT_WATCH_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "fixture/launch/unique_fd.h"
#include "fixture/server/lifecycle.h"
#include "fixture/server/server.h"

namespace fixture::server {

class ParentWatch {
 public:
  // Watches `parent`, this process's parent as getppid() gave it, on a
  // thread of its own (created by the caller's thread, so it inherits that
  // thread's signal mask). When `parent` exits, logs it and asks `lifecycle`
  // for a stop with options.signal_grace, as SIGTERM does. If `parent` is
  // gone by the time its pidfd is open, that stop is asked for at once. The
  // errno text of pidfd_open(2) or eventfd(2) when the watch cannot be set up
  // (ENOSYS before Linux 5.3, EMFILE).
  static absl::StatusOr<std::unique_ptr<ParentWatch>> Start(pid_t parent, Lifecycle* lifecycle,
                                                            const RunOptions& options);

  // Ends the watch (the parent is no longer watched) and joins its thread.
  ~ParentWatch();
  ParentWatch(const ParentWatch&) = delete;
  ParentWatch& operator=(const ParentWatch&) = delete;

  // Whether the parent has exited, as seen by the watch or now.
  bool parent_gone() const;

 private:
  ParentWatch(pid_t parent, UniqueFd pidfd, UniqueFd wake);
  void Watch(Lifecycle* lifecycle, const RunOptions& options);

  const pid_t parent_;
  UniqueFd pidfd_;  // Of the parent; readable once it has exited.
  UniqueFd wake_;   // eventfd: written by the destructor to end the watch.
  std::atomic<bool> gone_{false};
  std::thread thread_;
};

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_PARENT_WATCH_H_
