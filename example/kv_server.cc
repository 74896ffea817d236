// kv_server: the example fixture server, serving KeyValue on endpoint "grpc".
//
// Run by fixture::Fixture, fixturectl or the demo; standalone it prints its
// address and stops on Ctrl-C. The --test_* flags make it misbehave on purpose,
// so that tests can prove how the parent copes.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "fixture/example/kv_service.h"
#include "fixture/launch/protocol.h"
#include "fixture/server/server.h"
#include "fixture/server/testing_hooks.h"

ABSL_FLAG(std::string, address, "127.0.0.1:0", "Address of the KeyValue endpoint \"grpc\" (port 0: any free port).");
ABSL_FLAG(std::string, label, "", "A label key=value to report in Status.labels.");
ABSL_FLAG(bool, test_crash_before_ready, false, "Test only: abort() during setup, after writing to stderr.");
ABSL_FLAG(int, test_exit_before_ready, -1, "Test only: exit with this status during setup (if >= 0).");
ABSL_FLAG(bool, test_hang_before_ready, false, "Test only: never finish setup.");
ABSL_FLAG(bool, test_ignore_sigint, false, "Test only: ignore SIGINT.");
ABSL_FLAG(bool, test_stall_control, false, "Test only: the control service stops answering.");
ABSL_FLAG(std::string, test_crash_on_key, "", "Test only: abort() when a Put stores this key.");
ABSL_FLAG(bool, test_sidecar, false,
          "Test only: first thing in setup, start `sleep 300` as a sidecar that holds a copy of the readiness pipe "
          "(as a shell script's background job would); its pid is on stderr and in label sidecar_pid.");
ABSL_FLAG(std::string, test_extra_endpoint, "",
          "Test only: also declare an endpoint of this name on 127.0.0.1:0 (serving no service of its own).");

extern char** environ;

namespace {

// The example service, plus the --test_crash_on_key trigger.
class KvServer final : public fixture::example::KeyValueService {
 public:
  grpc::Status Put(grpc::ServerContext* context, const fixture::example::v1::PutRequest* request,
                   fixture::example::v1::PutResponse* response) override {
    std::string crash_key = absl::GetFlag(FLAGS_test_crash_on_key);
    if (!crash_key.empty() && request->key() == crash_key) {
      fprintf(stderr, "kv_server: crashing on Put(\"%s\") as --test_crash_on_key asks\n", crash_key.c_str());
      fflush(stderr);
      abort();
    }
    return KeyValueService::Put(context, request, response);
  }
};

// --test_sidecar: `sleep 300`, holding the readiness pipe (launch/protocol.h:
// kReadyFd, which the server/ library makes close-on-exec, hence the copy).
// Its pid, or the errno text of posix_spawn.
absl::StatusOr<pid_t> StartSidecar() {
  int held = fcntl(fixture::launch::kReadyFd, F_DUPFD, 10);  // Without FD_CLOEXEC: the sidecar inherits it.
  char arg0[] = "sleep";
  char arg1[] = "300";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid = -1;
  int error = posix_spawn(&pid, "/bin/sleep", nullptr, nullptr, argv, environ);
  if (held >= 0) close(held);
  if (error != 0)
    return absl::InternalError(absl::StrCat("--test_sidecar: posix_spawn(/bin/sleep): ", strerror(error)));
  fprintf(stderr, "kv_server: started sidecar pid %d as --test_sidecar asks\n", pid);
  fflush(stderr);
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("The example fixture server: an in-memory KeyValue store (example/kv.proto).");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_test_ignore_sigint)) signal(SIGINT, SIG_IGN);

  KvServer kv;
  return fixture::server::Main([&](fixture::server::ServerSetup& setup) -> absl::Status {
    if (absl::GetFlag(FLAGS_test_sidecar)) {
      absl::StatusOr<pid_t> sidecar = StartSidecar();
      if (!sidecar.ok()) return sidecar.status();
      setup.SetLabel("sidecar_pid", absl::StrCat(*sidecar));
    }
    if (absl::GetFlag(FLAGS_test_crash_before_ready)) {
      fprintf(stderr, "kv_server: crashing before ready as --test_crash_before_ready asks\n");
      fflush(stderr);
      abort();
    }
    if (int code = absl::GetFlag(FLAGS_test_exit_before_ready); code >= 0) {
      fprintf(stderr, "kv_server: exiting with status %d before ready as --test_exit_before_ready asks\n", code);
      fflush(stderr);
      _exit(code);
    }
    if (absl::GetFlag(FLAGS_test_hang_before_ready)) {
      fprintf(stderr, "kv_server: hanging before ready as --test_hang_before_ready asks\n");
      fflush(stderr);
      absl::Notification never;
      never.WaitForNotification();
    }
    if (absl::GetFlag(FLAGS_test_stall_control)) fixture::server::testing_hooks::StallControl(setup);
    std::string label = absl::GetFlag(FLAGS_label);
    if (auto eq = label.find('='); eq != std::string::npos) setup.SetLabel(label.substr(0, eq), label.substr(eq + 1));
    setup.SetLabel("server", "kv_server");
    if (absl::Status s = setup.AddEndpoint(fixture::server::kDefaultEndpoint, absl::GetFlag(FLAGS_address)); !s.ok()) {
      return s;
    }
    if (std::string extra = absl::GetFlag(FLAGS_test_extra_endpoint); !extra.empty()) {
      if (absl::Status s = setup.AddEndpoint(extra); !s.ok()) return s;
    }
    setup.OnReset([&kv] {  // FixtureControl.Reset: the next test starts from an empty store.
      kv.Clear();
      return absl::OkStatus();
    });
    return setup.AddService(&kv);
  });
}
