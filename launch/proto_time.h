// Conversions between absl time types and google.protobuf.Duration/Timestamp.
//
//   google::protobuf::Duration d = ToProtoDuration(absl::Milliseconds(250));
//   absl::StatusOr<absl::Duration> back = FromProtoDuration(d);
//   absl::StatusOr<absl::Duration> grace = FromRequestDuration(request.grace(), "grace");
#ifndef FIXTURE_LAUNCH_PROTO_TIME_H_
#define FIXTURE_LAUNCH_PROTO_TIME_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace fixture {

google::protobuf::Duration ToProtoDuration(absl::Duration d);
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t);

// InvalidArgument for a malformed Duration: nanos outside (-1e9, 1e9) or of
// the opposite sign to seconds.
absl::StatusOr<absl::Duration> FromProtoDuration(const google::protobuf::Duration& d);

// The longest wait or grace period a FixtureControl request may ask for
// (proto/control.proto).
inline constexpr absl::Duration kMaxRequestDuration = absl::Hours(1);

// A duration field of a FixtureControl request (WaitReadyRequest.timeout,
// ShutdownRequest.grace), as every process serving that contract checks it:
// InvalidArgument naming `field` when it is malformed, negative or longer
// than kMaxRequestDuration.
absl::StatusOr<absl::Duration> FromRequestDuration(const google::protobuf::Duration& value, absl::string_view field);

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_PROTO_TIME_H_
