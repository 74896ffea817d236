#include "fixture/tools/fixturectl_spec.h"

#include <errno.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/exit_info.h"
#include "fixture/proto/spec.pb.h"
#include "fixture/readiness_flag.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace fixturectl {
namespace {

// The first error protobuf's text parser reports, with its line and column.
class FirstError final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (text_.empty()) text_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

absl::StatusOr<ServerSpec> FromDefinition(const fixture::v1::ServerDefinition& definition) {
  ServerSpec server;
  server.name = definition.name();
  server.binary = definition.binary();
  if (server.name.empty()) return absl::InvalidArgumentError("a server without a name");
  if (server.binary.empty()) return absl::InvalidArgumentError(absl::StrCat("\"", server.name, "\": no binary"));
  server.args.assign(definition.args().begin(), definition.args().end());
  // The map's order is not the file's: sorted, so that runs agree.
  std::map<std::string, std::string> env(definition.env().begin(), definition.env().end());
  server.env.assign(env.begin(), env.end());
  if (!definition.ready().empty()) {
    absl::StatusOr<fixture::Readiness> ready = fixture::ParseReadiness(definition.ready());
    if (!ready.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", server.name, "\": ready \"", definition.ready(), "\": ", ready.status().message()));
    }
    server.ready = *std::move(ready);
  }
  server.ports.assign(definition.ports().begin(), definition.ports().end());
  if (!definition.stop_signal().empty()) {
    std::optional<int> signal = fixture::SignalNumber(definition.stop_signal());
    if (!signal.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", server.name, "\": stop_signal \"", definition.stop_signal(), "\" is no signal"));
    }
    server.stop_signal = *signal;
  }
  server.socket_activation = definition.socket_activation();
  server.deps.assign(definition.deps().begin(), definition.deps().end());
  server.task = definition.task();
  return server;
}

}  // namespace

absl::StatusOr<std::vector<ServerSpec>> ReadSpec(const std::string& path) {
  std::ifstream file(path);
  if (!file) return fixture::ErrnoStatus(errno, absl::StrCat("open(--spec=", path, ")"));
  std::stringstream text;
  text << file.rdbuf();
  fixture::v1::Spec spec;
  google::protobuf::TextFormat::Parser parser;
  FirstError error;
  parser.RecordErrorsTo(&error);
  if (!parser.ParseFromString(text.str(), &spec)) {
    return absl::InvalidArgumentError(absl::StrCat("--spec=", path, ": ", error.text()));
  }
  std::vector<ServerSpec> servers;
  for (const fixture::v1::ServerDefinition& definition : spec.servers()) {
    absl::StatusOr<ServerSpec> server = FromDefinition(definition);
    if (!server.ok()) return absl::InvalidArgumentError(absl::StrCat("--spec=", path, ": ", server.status().message()));
    servers.push_back(*std::move(server));
  }
  return servers;
}

absl::StatusOr<std::vector<std::vector<size_t>>> DepIndices(const std::vector<ServerSpec>& servers) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < servers.size(); ++i) index[servers[i].name] = i;
  std::vector<std::vector<size_t>> deps(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    for (const std::string& dep : servers[i].deps) {
      auto it = index.find(dep);
      if (it == index.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"", servers[i].name, "\" depends on \"", dep, "\", which is no server's or task's name"));
      }
      deps[i].push_back(it->second);
    }
  }
  // Kahn's algorithm: whatever it cannot place is on a cycle or behind one.
  std::vector<bool> placed(servers.size(), false);
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = 0; i < servers.size(); ++i) {
      if (placed[i] || !std::all_of(deps[i].begin(), deps[i].end(), [&](size_t dep) { return placed[dep]; })) continue;
      placed[i] = progress = true;
    }
  }
  std::vector<std::string> stuck;
  for (size_t i = 0; i < servers.size(); ++i) {
    if (!placed[i]) stuck.push_back(servers[i].name);
  }
  if (!stuck.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the deps form a cycle among: ", absl::StrJoin(stuck, ", "), "; none of them can start first"));
  }
  return deps;
}

absl::StatusOr<std::string> WithDepAddresses(absl::string_view text, const ServerSpec& server,
                                             const std::vector<std::string>& all_names,
                                             const std::vector<ServerAddresses>& started) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '{') {
      out.push_back(text[i++]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {  // "{{": a literal brace, for the next expansion.
      out.append("{{");
      i += 2;
      continue;
    }
    size_t close = text.find('}', i);
    absl::string_view inner = close == absl::string_view::npos ? "" : text.substr(i + 1, close - i - 1);
    size_t dot = inner.find('.');
    const std::string dep(dot == absl::string_view::npos ? "" : inner.substr(0, dot));
    if (dep.empty() || inner.find(':') != absl::string_view::npos ||
        std::find(all_names.begin(), all_names.end(), dep) == all_names.end()) {
      out.push_back(text[i++]);  // Not a server's name: {port:NAME}, {dir}, or the server's own text.
      continue;
    }
    if (std::find(server.deps.begin(), server.deps.end(), dep) == server.deps.end()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", server.name, "\" names {", inner, "}, but \"", dep,
                                                     "\" is not among its deps (add it, so that it is ready first)"));
    }
    auto it = std::find_if(started.begin(), started.end(), [&](const ServerAddresses& s) { return s.name == dep; });
    if (it == started.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", server.name, "\" names {", inner, "}, but \"", dep, "\" is a task: it has no endpoints"));
    }
    const absl::string_view wanted = inner.substr(dot + 1);
    auto endpoint = std::find_if(it->endpoints.begin(), it->endpoints.end(),
                                 [&](const fixture::v1::Endpoint& e) { return e.name() == wanted; });
    if (endpoint == it->endpoints.end()) {
      std::vector<std::string> there;
      for (const fixture::v1::Endpoint& e : it->endpoints) there.push_back(e.name());
      return absl::InvalidArgumentError(
          absl::StrCat("\"", server.name, "\" names {", inner, "}, but \"", dep, "\" has no endpoint \"", wanted,
                       "\" (it has: ", there.empty() ? "none" : absl::StrJoin(there, ", "), ")"));
    }
    out.append(endpoint->address());
    i = close + 1;
  }
  return out;
}

}  // namespace fixturectl
