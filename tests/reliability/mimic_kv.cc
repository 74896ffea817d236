#include "tests/reliability/mimic_kv.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "fixture/example/kv.grpc.pb.h"
#include "fixture/example/kv_service.h"
#include "fixture/launch/protocol.h"
#include "fixture/server/registry.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

extern char** environ;

namespace fixture::reliability {
namespace {

using example::v1::GetRequest;
using example::v1::GetResponse;
using example::v1::PutRequest;
using example::v1::PutResponse;

struct MimicFlags {
  bool crash_before_ready = false;
  std::optional<int> exit_before_ready;
  bool hang_before_ready = false;
  std::string crash_on_key;
  std::string exit_on_key;
  std::string hold_get;
  bool sidecar = false;
  std::string extra_endpoint;
};

absl::Status ParseFlags(const std::vector<std::string>& args, MimicFlags* flags) {
  for (const std::string& arg : args) {
    absl::string_view value = arg;
    if (arg == "--test_crash_before_ready") {
      flags->crash_before_ready = true;
    } else if (arg == "--test_hang_before_ready") {
      flags->hang_before_ready = true;
    } else if (absl::ConsumePrefix(&value, "--test_exit_before_ready=")) {
      int code;
      if (!absl::SimpleAtoi(value, &code)) return absl::InvalidArgumentError(absl::StrCat("bad flag ", arg));
      flags->exit_before_ready = code;
    } else if (absl::ConsumePrefix(&value, "--test_crash_on_key=")) {
      flags->crash_on_key = std::string(value);
    } else if (absl::ConsumePrefix(&value, "--test_exit_on_key=")) {
      flags->exit_on_key = std::string(value);
    } else if (absl::ConsumePrefix(&value, "--test_hold_get=")) {
      flags->hold_get = std::string(value);
    } else if (arg == "--test_sidecar") {
      flags->sidecar = true;
    } else if (absl::ConsumePrefix(&value, "--test_extra_endpoint=")) {
      flags->extra_endpoint = std::string(value);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("MimicKv: unknown flag ", arg));
    }
  }
  return absl::OkStatus();
}

// --test_sidecar: `sleep 300`, holding a copy of the readiness pipe
// (kReadyFd, close-on-exec in the server, hence the copy), as a shell
// script's background job would. Its pid, or the errno text of posix_spawn.
absl::StatusOr<pid_t> StartSidecar() {
  int held = fcntl(launch::kReadyFd, F_DUPFD, 10);  // Without FD_CLOEXEC: the sidecar inherits it.
  char arg0[] = "sleep";
  char arg1[] = "300";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid = -1;
  int error = posix_spawn(&pid, "/bin/sleep", nullptr, nullptr, argv, environ);
  if (held >= 0) close(held);
  if (error != 0) return absl::InternalError(absl::StrCat("MimicKv: posix_spawn(/bin/sleep): ", strerror(error)));
  fprintf(stderr, "MimicKv: started sidecar pid %d as --test_sidecar asks\n", pid);
  fflush(stderr);
  return pid;
}

// A Get that stays in flight until it is cancelled.
class HeldGet : public grpc::ServerUnaryReactor {
 public:
  HeldGet() { StartSendInitialMetadata(); }  // Tells the client: the call is here.
  void OnCancel() override { Finish(grpc::Status(grpc::StatusCode::CANCELLED, kHeldGetCancelled)); }
  void OnDone() override { delete this; }
};

// Finishes at once with the outcome of a synchronous handler.
class Immediate : public grpc::ServerUnaryReactor {
 public:
  explicit Immediate(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

class MimicKvService final : public example::v1::KeyValue::WithCallbackMethod_Get<example::KeyValueService> {
 public:
  explicit MimicKvService(MimicFlags flags) : flags_(std::move(flags)) {}

  grpc::Status Put(grpc::ServerContext* context, const PutRequest* request, PutResponse* response) override {
    if (!flags_.crash_on_key.empty() && request->key() == flags_.crash_on_key) {
      fprintf(stderr, "MimicKv: crashing on Put(\"%s\") as --test_crash_on_key asks\n", request->key().c_str());
      fflush(stderr);
      abort();
    }
    if (!flags_.exit_on_key.empty() && request->key() == flags_.exit_on_key) {
      fprintf(stderr, "MimicKv: exiting with status %d on Put(\"%s\") as --test_exit_on_key asks\n", kMimicExitCode,
              request->key().c_str());
      fflush(stderr);
      _exit(kMimicExitCode);
    }
    return example::KeyValueService::Put(context, request, response);
  }

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext*, const GetRequest* request,
                                GetResponse* response) override {
    if (!flags_.hold_get.empty() && request->key() == flags_.hold_get) return new HeldGet();
    return new Immediate(example::KeyValueService::Get(nullptr, request, response));
  }

 private:
  const MimicFlags flags_;
};

FIXTURE_SERVER(MimicKv, setup, args) {
  MimicFlags flags;
  if (absl::Status parsed = ParseFlags(args, &flags); !parsed.ok()) return parsed;
  if (flags.sidecar) {
    absl::StatusOr<pid_t> sidecar = StartSidecar();
    if (!sidecar.ok()) return sidecar.status();
    setup.SetLabel("sidecar_pid", absl::StrCat(*sidecar));
  }
  if (flags.crash_before_ready) {
    fprintf(stderr, "MimicKv: crashing before ready as --test_crash_before_ready asks\n");
    fflush(stderr);
    abort();
  }
  if (flags.exit_before_ready.has_value()) {
    fprintf(stderr, "MimicKv: exiting with status %d before ready as --test_exit_before_ready asks\n",
            *flags.exit_before_ready);
    fflush(stderr);
    _exit(*flags.exit_before_ready);
  }
  if (flags.hang_before_ready) {
    fprintf(stderr, "MimicKv: hanging before ready as --test_hang_before_ready asks\n");
    fflush(stderr);
    absl::Notification never;
    never.WaitForNotification();
  }
  setup.SetLabel("server", "MimicKv");
  // One per child process, alive until it exits.
  static MimicKvService* const kv = new MimicKvService(flags);
  if (!flags.extra_endpoint.empty()) {
    if (absl::Status added = setup.AddEndpoint(flags.extra_endpoint); !added.ok()) return added;
  }
  return setup.AddService(kv);
}

}  // namespace
}  // namespace fixture::reliability
