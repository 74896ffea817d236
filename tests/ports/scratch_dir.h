// ScratchDir: a short private directory for a test's sockets and server
// files, removed with everything in it.
//
// "/tmp/ports-XXXXXX" rather than TEST_TMPDIR, whose path can be longer than
// a Unix socket path may be (107 bytes).
//
//   ScratchDir dir;
//   ASSERT_TRUE(dir.ok());
//   std::string socket = dir.path() + "/redis.sock";
#ifndef FIXTURE_TESTS_PORTS_SCRATCH_DIR_H_
#define FIXTURE_TESTS_PORTS_SCRATCH_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace fixture::testing {

class ScratchDir {
 public:
  // mkdtemp(3); ok() is false (errno set) when it failed.
  ScratchDir() {
    char name[] = "/tmp/ports-XXXXXX";
    if (mkdtemp(name) != nullptr) path_ = name;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace fixture::testing

#endif  // FIXTURE_TESTS_PORTS_SCRATCH_DIR_H_
