#include "server/parent_watch.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/pidfd.h"
#include "fixture/launch/poll.h"
#include "server/log.h"

namespace fixture::server {

absl::StatusOr<std::unique_ptr<ParentWatch>> ParentWatch::Start(pid_t parent, Lifecycle* lifecycle,
                                                                const RunOptions& options) {
  UniqueFd pidfd = OpenPidfd(parent);
  if (!pidfd) return ErrnoStatus(errno, absl::StrCat("pidfd_open(", parent, ")"));
  UniqueFd wake(eventfd(0, EFD_CLOEXEC));
  if (!wake) return ErrnoStatus(errno, "eventfd()");
  std::unique_ptr<ParentWatch> watch(new ParentWatch(parent, std::move(pidfd), std::move(wake)));
  // Still our parent now, so the pidfd is of that process and not of one
  // that reused its pid; if not, it is gone already.
  if (getppid() != parent) {
    watch->pidfd_.reset();
    watch->gone_.store(true);
    Log(options.name, "the process that started this server (pid %d) is gone: stopping (grace %s)", parent,
        absl::FormatDuration(options.signal_grace));
    lifecycle->RequestStop(options.signal_grace);
    return watch;
  }
  watch->thread_ = std::thread([w = watch.get(), lifecycle, options] { w->Watch(lifecycle, options); });
  return watch;
}

ParentWatch::ParentWatch(pid_t parent, UniqueFd pidfd, UniqueFd wake)
    : parent_(parent), pidfd_(std::move(pidfd)), wake_(std::move(wake)) {}

void ParentWatch::Watch(Lifecycle* lifecycle, const RunOptions& options) {
  absl::StatusOr<int> ready =
      PollAnyReadable({pidfd_.get(), wake_.get()}, absl::InfiniteFuture(), absl::StrCat("pidfd of parent ", parent_));
  if (!ready.ok()) {
    Log(options.name, "cannot watch the process that started this server: %s", ready.status().ToString());
    return;
  }
  if (*ready != 0) return;  // Woken by the destructor.
  gone_.store(true);
  Log(options.name, "the process that started this server (pid %d) is gone: stopping (grace %s)", parent_,
      absl::FormatDuration(options.signal_grace));
  lifecycle->RequestStop(options.signal_grace);
}

bool ParentWatch::parent_gone() const {
  if (gone_.load()) return true;
  if (!pidfd_) return false;
  absl::StatusOr<bool> exited = PollReadable(pidfd_.get(), absl::Now(), "pidfd of the parent");
  return exited.ok() && *exited;
}

ParentWatch::~ParentWatch() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  while (write(wake_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
  thread_.join();
}

}  // namespace fixture::server
