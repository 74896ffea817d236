// limits_probe: fixture::Fixture as a test process uses it, for the limits
// test (fixturectl_limits_test.sh) to run under a low `ulimit -u`.
//
//   limits_probe KV_SERVER COUNT grpc|threaded
//
// First makes the process one that may not fork without exec, as a test
// process is, so that the fixture sets up its control channel during the
// start: "grpc" uses gRPC first (a channel that connects nowhere), "threaded"
// only starts a thread, so that the fixture's channel is the process's first
// use of gRPC and its threads start while the server's do. Then it starts
// and stops COUNT kv_server fixtures one at a time and
// prints one line for each: "start N: ok", "stop N: ok" or the error. Exits 0
// when it got to the end, whatever the starts gave; a hang (in the teardown of
// gRPC objects, say) is what the test looks for.
#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <system_error>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "fixture/fixture.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

int main(int argc, char** argv) {
  int count = 0;
  const std::string mode = argc == 4 ? argv[3] : "";
  if (argc != 4 || !absl::SimpleAtoi(argv[2], &count) || (mode != "grpc" && mode != "threaded")) {
    fprintf(stderr, "usage: limits_probe KV_SERVER COUNT grpc|threaded\n");
    return 2;
  }
  std::shared_ptr<grpc::Channel> earlier;
  absl::Notification done;
  std::thread other;
  if (mode == "grpc") {
    earlier = grpc::CreateChannel("unix:/nonexistent/limits_probe.sock", grpc::InsecureChannelCredentials());
    earlier->GetState(/*try_to_connect=*/true);
  } else {
    try {
      other = std::thread([&done] { done.WaitForNotification(); });
    } catch (const std::system_error& failed) {  // ulimit -u 1: not even one thread.
      printf("no thread of the probe's own: %s\n", failed.what());
    }
  }
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<fixture::Fixture> kv =
        fixture::Fixture::Start({.name = absl::StrCat("kv", i), .program = fixture::Binary{argv[1]}});
    std::string said = kv.ok() ? "ok" : kv.status().ToString();
    printf("start %d: %s\n", i, said.substr(0, said.find('\n')).c_str());
    fflush(stdout);
    if (!kv.ok()) continue;
    absl::StatusOr<fixture::StopResult> stopped = kv->Stop();
    printf("stop %d: %s\n", i, stopped.ok() ? stopped->ToString().c_str() : stopped.status().ToString().c_str());
    fflush(stdout);
  }
  earlier.reset();
  done.Notify();
  if (other.joinable()) other.join();
  printf("done\n");
  return 0;
}
