// UniqueFd: sole ownership of a POSIX file descriptor.
//
// Every descriptor the toolkit opens lives in a UniqueFd, so it is closed on
// every path, including errors. Move-only, like std::unique_ptr.
//
//   absl::StatusOr<UniqueFd> fd = OpenOrError(path);
//   if (!fd.ok()) return fd.status();
//   Use(fd->get());           // closed when `fd` goes out of scope
#ifndef FIXTURE_LAUNCH_UNIQUE_FD_H_
#define FIXTURE_LAUNCH_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace fixture {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of `fd` (-1 for none).
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }

  // Closes the current descriptor (if any) and owns `fd` instead. close(2) is
  // not retried on EINTR: on Linux the descriptor is released either way.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_UNIQUE_FD_H_
