#include "fixture/tools/fixturectl_faults.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fixture/launch/proto_time.h"

namespace fixturectl {
namespace {

namespace v1 = fixture::v1;

// The gRPC status codes by number (grpc/status.h).
constexpr const char* kCodeNames[] = {
    "OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED",
};
constexpr int kCodes = sizeof kCodeNames / sizeof kCodeNames[0];

// A failure code by name (any case) or number: 1..16, else -1.
int ParseCode(const std::string& given) {
  int number = 0;
  if (absl::SimpleAtoi(given, &number)) return number >= 1 && number < kCodes ? number : -1;
  std::string upper = absl::AsciiStrToUpper(given);
  for (int code = 1; code < kCodes; ++code) {
    if (upper == kCodeNames[code]) return code;
  }
  return -1;
}

std::string CodeName(int code) { return code >= 0 && code < kCodes ? kCodeNames[code] : absl::StrCat(code); }

}  // namespace

absl::StatusOr<v1::FaultSpec> FaultSpecFromFlags(const CommandLine& line) {
  if (line.method.empty()) {
    return absl::InvalidArgumentError(
        "--method=/package.Service/Method is required (or a prefix ending in *, e.g. --method='/pkg.Svc/*')");
  }
  v1::FaultSpec spec;
  spec.set_method(line.method);
  if (!line.metadata.empty()) {
    size_t equals = line.metadata.find('=');
    if (equals == std::string::npos || equals == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--metadata=", line.metadata, ": write it as KEY=VALUE"));
    }
    spec.set_metadata_key(absl::AsciiStrToLower(line.metadata.substr(0, equals)));
    spec.set_metadata_value(line.metadata.substr(equals + 1));
  }
  if (!line.code.empty()) {
    int code = ParseCode(line.code);
    if (code < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--code=", line.code, ": not a failure status code (a name such as UNAVAILABLE, or a number 1 to 16)"));
    }
    spec.set_code(code);
  }
  spec.set_message(line.message);
  // Negative delays go to the server as they are, which refuses them.
  *spec.mutable_delay() = fixture::ToProtoDuration(line.delay);
  if (line.rate.has_value() && line.count.has_value()) {
    return absl::InvalidArgumentError("--rate and --count: give one of them (or neither: every call)");
  }
  if (line.rate.has_value()) spec.set_rate(*line.rate);
  if (line.count.has_value()) spec.set_count(*line.count);
  if (line.seed.has_value()) spec.set_seed(*line.seed);
  return spec;
}

std::string FaultLine(const v1::Fault& fault) {
  const v1::FaultSpec& spec = fault.spec();
  std::string text = absl::StrCat(fault.id(), " ", spec.method());
  if (!spec.metadata_key().empty())
    absl::StrAppend(&text, " metadata ", spec.metadata_key(), "=", spec.metadata_value());
  if (spec.code() != 0) absl::StrAppend(&text, " code=", CodeName(spec.code()));
  if (!spec.message().empty()) absl::StrAppend(&text, " message=\"", spec.message(), "\"");
  absl::StatusOr<absl::Duration> delay = fixture::FromProtoDuration(spec.delay());
  if (delay.ok() && *delay != absl::ZeroDuration()) absl::StrAppend(&text, " delay=", absl::FormatDuration(*delay));
  if (spec.calls_case() == v1::FaultSpec::kRate) absl::StrAppend(&text, " rate=", spec.rate(), " seed=", spec.seed());
  if (spec.calls_case() == v1::FaultSpec::kCount) absl::StrAppend(&text, " count=", spec.count());
  absl::StrAppend(&text, " hits=", fault.hits());
  return text;
}

}  // namespace fixturectl
