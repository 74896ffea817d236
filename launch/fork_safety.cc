#include "fixture/launch/fork_safety.h"

#include <atomic>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpc/grpc.h"

namespace fixture {
namespace {

std::atomic<bool> grpc_used{false};

constexpr char kUseForkServer[] =
    "; run the server through the fork server instead: register it with FIXTURE_SERVER(Name, setup, args), "
    "set FixtureOptions.program = fixture::Registered{\"Name\"}, and link //fixture:gtest_main (or call "
    "fixture::StartForkServer() first thing in main())";

}  // namespace

int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    int threads;
    if (absl::ConsumePrefix(&rest, "Threads:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &threads)) {
      return threads;
    }
  }
  return -1;
}

void MarkGrpcUsed() { grpc_used.store(true); }

absl::Status CheckForkWithoutExecIsSafe() {
  if (grpc_used.load() || grpc_is_initialized()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to fork without exec: this process has used gRPC, and a child forked from it hangs or crashes",
        kUseForkServer));
  }
  int threads = ThreadCount();
  if (threads != 1) {
    return absl::FailedPreconditionError(absl::StrCat("refusing to fork without exec: this process has ",
                                                      threads < 0 ? "an unknown number of" : absl::StrCat(threads),
                                                      " threads, and a lock another thread holds stays locked "
                                                      "forever in the child",
                                                      kUseForkServer));
  }
  return absl::OkStatus();
}

}  // namespace fixture
