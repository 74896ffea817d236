// FaultInjector: the faults a test put on the server under test
// (FixtureControl.InjectFault), and the decision, call by call, of which
// fault acts on it.
//
// Thread-safe. The control service adds, lists and clears faults; the
// faulting method handlers (server/fault_handlers.h) ask Decide() at the
// start of each call, before the service's handler runs, and then wait out
// the delay with Delay(). Each fault keeps its hit count and, for a rate, its
// own std::mt19937_64 seeded with the fault's seed: for one seed and one
// order of matching calls the same calls are hit, run after run.
//
//   auto faults = std::make_shared<FaultInjector>();
//   faults->AddFaultableMethod("/fixture.example.v1.KeyValue/Put");  // by FaultMethodHandlers
//   absl::StatusOr<int64_t> id = faults->Add(spec);  // INVALID_ARGUMENT names the field
//   ...
//   std::optional<FaultInjector::Action> action = faults->Decide(method, metadata);
//   if (action) { faults->Delay(action->delay, call_deadline); ... fail with action->status ... }
//
// It also holds the connection-level fault (FixtureControl.DropConnections):
// DropConnections() closes the connections clients opened to the server
// under test and, for a while, has Decide() answer every call with closing
// its connection.
#ifndef FIXTURE_SERVER_FAULT_INJECTOR_H_
#define FIXTURE_SERVER_FAULT_INJECTOR_H_

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fixture/proto/control.pb.h"
#include "google/protobuf/duration.pb.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/string_ref.h"

namespace fixture::server {

class FaultInjector {
 public:
  // What a fault does to one call.
  struct Action {
    absl::Duration delay = absl::ZeroDuration();
    // OK: the call goes on to its handler after the delay.
    grpc::Status status;
    // Close the connections (CloseConnections()) before failing the call:
    // DropConnections' refusal is on.
    bool close_connections = false;
  };

  // `control_address` ("unix:/path", as the control server bound it; empty
  // when there is none) is the one listener whose connections are never
  // closed.
  explicit FaultInjector(std::string control_address = "");

  // The methods faults can act on (those whose handlers were wrapped); a
  // fault's pattern must match one of them. Adds to the set.
  void AddFaultableMethod(std::string method);

  // Adds a fault: its id, or INVALID_ARGUMENT naming the offending field
  // ("fault.method", "fault.rate", "fault.delay", ...). A spec without a seed
  // for a rate gets one, reported by List().
  absl::StatusOr<int64_t> Add(v1::FaultSpec spec);
  // Removes the fault `id`: NOT_FOUND if there is none.
  absl::Status Clear(int64_t id);
  // Removes every fault, and ends DropConnections' refusal; how many faults
  // there were.
  int ClearAll();
  // The faults in place, in the order they were added.
  std::vector<v1::Fault> List() const;

  // The action for one call of `method` with client metadata `metadata`:
  // the first fault (in the order they were added) that matches and hits
  // it counts the hit and decides; nullopt when none does.
  std::optional<Action> Decide(absl::string_view method,
                               const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);

  // Closes every connection clients opened to this process's listening
  // sockets but the control socket's (ShutDownAcceptedConnections); then,
  // for `refuse_for`, Decide() answers every call with close_connections and
  // UNAVAILABLE (a later call's refuse_for replaces an earlier one's).
  // Returns how many connections were closed. INVALID_ARGUMENT naming
  // "refuse_for" if it is negative or over an hour; the errno text if
  // /proc/self/fd cannot be read.
  absl::StatusOr<int> DropConnections(const google::protobuf::Duration& refuse_for);
  // The closing of DropConnections(), without the refusal: how many.
  absl::StatusOr<int> CloseConnections() const;
  // When DropConnections' refusal ends, while it lasts.
  std::optional<absl::Time> RefusingConnectionsUntil() const;

  // Waits `delay`, or less: until `deadline` (the call's), or until Stop().
  void Delay(absl::Duration delay, absl::Time deadline) const;

  // The server is stopping: delays end at once, now and from now on.
  void Stop();

 private:
  struct Entry {
    int64_t id;
    v1::FaultSpec spec;
    int64_t hits = 0;
    std::mt19937_64 random;
  };

  // INVALID_ARGUMENT naming the field, or OK.
  absl::Status Validate(const v1::FaultSpec& spec) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `entry` hits this call (advancing its generator or count).
  static bool Hits(Entry& entry);

  const std::string control_address_;
  mutable absl::Mutex mu_;
  std::set<std::string> faultable_ ABSL_GUARDED_BY(mu_);
  absl::Time refuse_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::list<Entry> faults_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

// Whether fault pattern `pattern` ("/pkg.Svc/Method", or a prefix ending in
// "*") matches full method name `method`.
bool FaultPatternMatches(absl::string_view pattern, absl::string_view method);

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_FAULT_INJECTOR_H_
