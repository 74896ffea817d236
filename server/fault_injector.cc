#include "fixture/server/fault_injector.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "fixture/launch/proto_time.h"
#include "fixture/server/own_listening_sockets.h"

namespace fixture::server {
namespace {

absl::Status InvalidField(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// The delay of a validated spec.
absl::Duration DelayOf(const v1::FaultSpec& spec) {
  absl::StatusOr<absl::Duration> delay = FromRequestDuration(spec.delay(), "fault.delay");
  return delay.ok() ? *delay : absl::ZeroDuration();
}

}  // namespace

bool FaultPatternMatches(absl::string_view pattern, absl::string_view method) {
  if (absl::ConsumeSuffix(&pattern, "*")) return absl::StartsWith(method, pattern);
  return pattern == method;
}

FaultInjector::FaultInjector(std::string control_address) : control_address_(std::move(control_address)) {}

void FaultInjector::AddFaultableMethod(std::string method) {
  absl::MutexLock lock(&mu_);
  faultable_.insert(std::move(method));
}

absl::Status FaultInjector::Validate(const v1::FaultSpec& spec) const {
  const std::string& pattern = spec.method();
  if (pattern.empty())
    return InvalidField("fault.method", "missing: give \"/package.Service/Method\" or a prefix ending in \"*\"");
  if (pattern != "*" && !absl::StartsWith(pattern, "/")) {
    return InvalidField(
        "fault.method",
        absl::StrCat(
            "\"", pattern,
            "\" is neither a full method name (\"/package.Service/Method\") nor a prefix of one ending in \"*\""));
  }
  bool matches = false;
  for (const std::string& method : faultable_) matches = matches || FaultPatternMatches(pattern, method);
  if (!matches) {
    std::string known;
    for (const std::string& method : faultable_) absl::StrAppend(&known, known.empty() ? "" : ", ", method);
    return InvalidField(
        "fault.method",
        absl::StrCat("\"", pattern, "\" matches no method of the server under test that faults can act on (",
                     known.empty() ? "there are none" : known, ")"));
  }
  if (spec.metadata_key().empty() && !spec.metadata_value().empty()) {
    return InvalidField("fault.metadata_key", "missing: a metadata_value needs the key it is the value of");
  }
  if (spec.code() < 0 || spec.code() > 16) {
    return InvalidField("fault.code",
                        absl::StrCat(spec.code(), " is not a gRPC status code (1 to 16; 0 for no failure)"));
  }
  absl::StatusOr<absl::Duration> delay = FromRequestDuration(spec.delay(), "fault.delay");
  if (!delay.ok()) return delay.status();
  if (spec.code() == 0 && *delay == absl::ZeroDuration()) {
    return InvalidField("fault.code", "a fault must fail the call (a code), delay it (fault.delay), or both");
  }
  if (spec.calls_case() == v1::FaultSpec::kRate && !(spec.rate() >= 0 && spec.rate() <= 1)) {
    return InvalidField("fault.rate", absl::StrCat(spec.rate(), " is not a probability between 0 and 1"));
  }
  if (spec.calls_case() == v1::FaultSpec::kCount && spec.count() < 1) {
    return InvalidField("fault.count", absl::StrCat(spec.count(), " calls: must be at least 1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> FaultInjector::Add(v1::FaultSpec spec) {
  absl::MutexLock lock(&mu_);
  if (absl::Status valid = Validate(spec); !valid.ok()) return valid;
  spec.set_metadata_key(absl::AsciiStrToLower(spec.metadata_key()));  // gRPC sends keys in lower case.
  if (!spec.has_seed()) spec.set_seed(std::random_device()() | (uint64_t{std::random_device()()} << 32));
  Entry& entry = faults_.emplace_back();
  entry.id = next_id_++;
  entry.random.seed(spec.seed());
  entry.spec = std::move(spec);
  return entry.id;
}

absl::Status FaultInjector::Clear(int64_t id) {
  absl::MutexLock lock(&mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->id == id) {
      faults_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat("id: there is no fault ", id, " (ListFaults shows the faults in place)"));
}

int FaultInjector::ClearAll() {
  absl::MutexLock lock(&mu_);
  int cleared = static_cast<int>(faults_.size());
  faults_.clear();
  refuse_until_ = absl::InfinitePast();
  return cleared;
}

absl::StatusOr<int> FaultInjector::DropConnections(const google::protobuf::Duration& refuse_for) {
  absl::StatusOr<absl::Duration> duration = FromRequestDuration(refuse_for, "refuse_for");
  if (!duration.ok()) return duration.status();
  {
    // Before the closing: a client that reconnects at once is refused.
    absl::MutexLock lock(&mu_);
    refuse_until_ = *duration > absl::ZeroDuration() ? absl::Now() + *duration : absl::InfinitePast();
  }
  return CloseConnections();
}

absl::StatusOr<int> FaultInjector::CloseConnections() const {
  absl::StatusOr<std::vector<ListeningSocket>> listeners = OwnListeningSockets();
  if (!listeners.ok()) return listeners.status();
  std::vector<ListeningSocket> service;
  for (ListeningSocket& listener : *listeners) {
    if (control_address_.empty() || listener.address != control_address_) service.push_back(std::move(listener));
  }
  return ShutDownAcceptedConnections(service);
}

std::optional<absl::Time> FaultInjector::RefusingConnectionsUntil() const {
  absl::MutexLock lock(&mu_);
  if (absl::Now() >= refuse_until_) return std::nullopt;
  return refuse_until_;
}

std::vector<v1::Fault> FaultInjector::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Fault> list;
  for (const Entry& entry : faults_) {
    v1::Fault& fault = list.emplace_back();
    fault.set_id(entry.id);
    *fault.mutable_spec() = entry.spec;
    fault.set_hits(entry.hits);
  }
  return list;
}

bool FaultInjector::Hits(Entry& entry) {
  switch (entry.spec.calls_case()) {
    case v1::FaultSpec::kRate:
      return std::uniform_real_distribution<double>(0, 1)(entry.random) < entry.spec.rate();
    case v1::FaultSpec::kCount:
      return entry.hits < entry.spec.count();
    case v1::FaultSpec::CALLS_NOT_SET:
      return true;
  }
  return false;
}

std::optional<FaultInjector::Action> FaultInjector::Decide(
    absl::string_view method, const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  absl::MutexLock lock(&mu_);
  if (const absl::Time now = absl::Now(); now < refuse_until_) {
    Action refused;
    refused.close_connections = true;
    refused.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat("connections are refused for another ",
                                                                              absl::FormatDuration(refuse_until_ - now),
                                                                              " (FixtureControl.DropConnections)"));
    return refused;
  }
  for (Entry& entry : faults_) {
    const v1::FaultSpec& spec = entry.spec;
    if (!FaultPatternMatches(spec.method(), method)) continue;
    if (!spec.metadata_key().empty()) {
      auto [begin, end] = metadata.equal_range(spec.metadata_key());
      bool found = false;
      for (auto it = begin; it != end && !found; ++it) {
        found = absl::string_view(it->second.data(), it->second.size()) == spec.metadata_value();
      }
      if (!found) continue;
    }
    if (!Hits(entry)) continue;
    ++entry.hits;
    Action action;
    action.delay = DelayOf(spec);
    if (spec.code() != 0) {
      std::string message = spec.message().empty()
                                ? absl::StrCat("fault ", entry.id, " injected by the test (FixtureControl.InjectFault)")
                                : spec.message();
      action.status = grpc::Status(static_cast<grpc::StatusCode>(spec.code()), message);
    }
    return action;
  }
  return std::nullopt;
}

void FaultInjector::Delay(absl::Duration delay, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithDeadline(absl::Condition(&stopping), std::min(deadline, absl::Now() + delay));
}

void FaultInjector::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

}  // namespace fixture::server
