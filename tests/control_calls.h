// ControlCalls: the FixtureControl calls a test makes beyond what
// fixture::Fixture offers (faults, Reset, a Shutdown of its own), each on the
// fixture's control channel with a 10 s deadline, each answering with an
// absl::Status (the call's code and message, FromGrpc) so that the
// fixture/testing.h matchers apply.
//
//   ControlCalls control(kv);
//   ASSERT_OK_AND_ASSIGN(int64_t id, control.InjectFault(spec));
//   EXPECT_THAT(control.Reset(), IsOk());
//   EXPECT_THAT(control.ListFaults(), IsOkAndHolds(IsEmpty()));
#ifndef FIXTURE_TESTS_CONTROL_CALLS_H_
#define FIXTURE_TESTS_CONTROL_CALLS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fixture/fixture.h"
#include "fixture/proto/control.grpc.pb.h"

namespace fixture::testing {

class ControlCalls {
 public:
  // Calls `server`'s control socket; `server` may be moved or stopped after.
  explicit ControlCalls(const Fixture& server);

  // InjectFault: the fault's id.
  absl::StatusOr<int64_t> InjectFault(const v1::FaultSpec& spec);
  // ClearFaults of fault `id`, or (nullopt) of every fault: how many went.
  absl::StatusOr<int> ClearFaults(std::optional<int64_t> id);
  // DropConnections with `refuse_for` (any value; zero sends none): how many
  // connections were closed.
  absl::StatusOr<int> DropConnections(absl::Duration refuse_for = absl::ZeroDuration());
  // ListFaults: the faults in place, oldest first.
  absl::StatusOr<std::vector<v1::Fault>> ListFaults();
  // Reset: the server's reset hook, then its counts and faults cleared.
  absl::StatusOr<v1::ResetResponse> Reset();
  // Shutdown with `grace` and `drain` (any values, out of range ones too):
  // the reply, the stop under way.
  absl::StatusOr<v1::ShutdownResponse> Shutdown(absl::Duration grace, absl::Duration drain = absl::ZeroDuration());

 private:
  std::unique_ptr<v1::FixtureControl::Stub> stub_;
};

}  // namespace fixture::testing

#endif  // FIXTURE_TESTS_CONTROL_CALLS_H_
