#include "fixture/launch/failure.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace fixture {

absl::Status WithFailure(absl::Status status, const v1::Failure& failure) {
  status.SetPayload(kFailureTypeUrl, absl::Cord(failure.SerializeAsString()));
  return status;
}

absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  absl::Status annotated(status.code(), absl::StrCat(prefix, status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) { annotated.SetPayload(url, payload); });
  return annotated;
}

v1::Failure BadOption(absl::string_view fixture, absl::string_view field, v1::Failure::Cause cause) {
  v1::Failure failure;
  failure.set_fixture(std::string(fixture));
  failure.set_stage(v1::Failure::OPTIONS);
  failure.set_cause(cause);
  failure.set_field(std::string(field));
  return failure;
}

v1::Exit ToProto(const ExitInfo& exit) {
  v1::Exit out;
  out.set_signaled(exit.signaled);
  out.set_code(exit.code);
  out.set_signal(exit.signal);
  out.set_core_dumped(exit.core_dumped);
  out.set_status_unknown(!exit.status_known);
  return out;
}

}  // namespace fixture
