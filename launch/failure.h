// The fixture.v1.Failure payload (proto/failure.proto) on an absl::Status.
//
// Messages are for people; the payload is for programs. Whoever builds an
// error about a server process attaches the facts; whoever acts on an error
// (fixturectl's exit code, tests, a user's program) reads them with
// fixture::FailureOf() (fixture/fixture.h) and never parses the message.
//
//   absl::Status error = WithFailure(absl::FailedPreconditionError(text), failure);
#ifndef FIXTURE_LAUNCH_FAILURE_H_
#define FIXTURE_LAUNCH_FAILURE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fixture/launch/exit_info.h"
#include "fixture/proto/failure.pb.h"

namespace fixture {

// The payload's type URL.
inline constexpr char kFailureTypeUrl[] = "type.googleapis.com/fixture.v1.Failure";

// `status` with `failure` attached (replacing an earlier one). An OK status
// is returned unchanged: absl drops payloads of OK statuses.
absl::Status WithFailure(absl::Status status, const v1::Failure& failure);

// `status` re-coded and re-worded as `prefix` + its message, keeping its
// payloads: for a caller that adds context to an error from below.
absl::Status Annotate(const absl::Status& status, absl::string_view prefix);

// A Failure for a bad FixtureOptions field.
v1::Failure BadOption(absl::string_view fixture, absl::string_view field, v1::Failure::Cause cause);

// ExitInfo as the proto's Exit.
v1::Exit ToProto(const ExitInfo& exit);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_FAILURE_H_
