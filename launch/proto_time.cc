#include "fixture/launch/proto_time.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fixture {

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  google::protobuf::Duration out;
  int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return out;
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  timespec ts = absl::ToTimespec(t);
  google::protobuf::Timestamp out;
  out.set_seconds(ts.tv_sec);
  out.set_nanos(static_cast<int32_t>(ts.tv_nsec));
  return out;
}

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::StatusOr<absl::Duration> FromProtoDuration(const google::protobuf::Duration& d) {
  if (d.nanos() <= -1000000000 || d.nanos() >= 1000000000 || (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed Duration {seconds: ", d.seconds(), ", nanos: ", d.nanos(), "}"));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<absl::Duration> FromRequestDuration(const google::protobuf::Duration& value, absl::string_view field) {
  absl::StatusOr<absl::Duration> d = FromProtoDuration(value);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", d.status().message()));
  if (*d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not be negative, got ", absl::FormatDuration(*d)));
  }
  if (*d > kMaxRequestDuration) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": at most ", absl::FormatDuration(kMaxRequestDuration),
                                                   ", got ", absl::FormatDuration(*d)));
  }
  return *d;
}

}  // namespace fixture
