#include "fixture/launch/environment.h"

#include <errno.h>
#include <stdlib.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fixture/launch/errno_status.h"

extern char** environ;

namespace fixture {
namespace {

bool Dropped(absl::string_view key, const EnvironmentChange& change) {
  for (const auto& [name, value] : change.set) {
    if (name == key) return true;
  }
  for (const std::string& name : change.unset) {
    if (name == key) return true;
  }
  for (const std::string& prefix : change.unset_prefixes) {
    if (absl::StartsWith(key, prefix)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ChildEnvironment(char* const* base, const EnvironmentChange& change) {
  std::vector<std::string> env;
  for (char* const* e = base; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry(*e);
    if (!Dropped(entry.substr(0, entry.find('=')), change)) env.emplace_back(entry);
  }
  for (size_t i = 0; i < change.set.size(); ++i) {
    bool overridden = false;
    for (size_t j = i + 1; j < change.set.size(); ++j) overridden |= change.set[j].first == change.set[i].first;
    if (!overridden) env.push_back(absl::StrCat(change.set[i].first, "=", change.set[i].second));
  }
  return env;
}

absl::Status ApplyEnvironment(const EnvironmentChange& change) {
  std::vector<std::string> doomed;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry(*e);
    std::string key(entry.substr(0, entry.find('=')));
    for (const std::string& prefix : change.unset_prefixes) {
      if (absl::StartsWith(key, prefix)) doomed.push_back(key);
    }
  }
  for (const std::string& key : doomed) unsetenv(key.c_str());
  for (const std::string& key : change.unset) unsetenv(key.c_str());
  for (const auto& [key, value] : change.set) {
    if (setenv(key.c_str(), value.c_str(), /*overwrite=*/1) != 0) {
      return ErrnoStatus(errno, absl::StrCat("setenv(", key, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckVariableName(absl::string_view name) {
  if (name.empty() || absl::StrContains(name, '=')) {
    return absl::InvalidArgumentError(absl::StrCat("bad variable name \"", name, "\""));
  }
  return absl::OkStatus();
}

std::string VariableNamePart(absl::string_view name) {
  std::string out(name);
  for (char& c : out) c = absl::ascii_isalnum(static_cast<unsigned char>(c)) ? absl::ascii_toupper(c) : '_';
  return out;
}

std::string EndpointVariable(absl::string_view server, absl::string_view endpoint) {
  return absl::StrCat("FIXTURE_", VariableNamePart(server), "_", VariableNamePart(endpoint));
}

}  // namespace fixture
