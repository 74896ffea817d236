// `fixturectl run --spec=FILE`: server definitions from a file, and the
// graph they form.
//
// The file is a fixture.v1.Spec (proto/spec.proto) in protobuf's text
// format, as fixture_test writes it from fixture_server and fixture_task
// rules. Its servers come before the --server flags' and may name each
// other in `deps`; --server flags have none.
//
//   absl::StatusOr<std::vector<ServerSpec>> servers = ReadSpec("kv_test.spec");
//   absl::StatusOr<std::vector<std::vector<size_t>>> deps = DepIndices(*servers);
//   ... start server i once every server in (*deps)[i] is ready ...
//
//   absl::StatusOr<std::string> arg = WithDepAddresses("--kv={kv.grpc}", server, started);
#ifndef FIXTURE_TOOLS_FIXTURECTL_SPEC_H_
#define FIXTURE_TOOLS_FIXTURECTL_SPEC_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fixture/fixture.h"
#include "fixture/tools/fixturectl_env.h"
#include "fixture/tools/fixturectl_flags.h"

namespace fixturectl {

// The servers of the spec file at `path`, in its order. InvalidArgument
// naming the file (and the entry) for a file protobuf cannot parse, an entry
// without a name or binary, a --ready or stop_signal that does not parse;
// the errno text when the file cannot be read.
absl::StatusOr<std::vector<ServerSpec>> ReadSpec(const std::string& path);

// For each server, the indices in `servers` of its deps (in its `deps`
// order): the graph a start follows, each server as soon as its own deps are
// ready. InvalidArgument naming the server for a dep that is no server's
// name, and naming every member of a cycle.
absl::StatusOr<std::vector<std::vector<size_t>>> DepIndices(const std::vector<ServerSpec>& servers);

// `text` with every "{DEP.ENDPOINT}" replaced by the address of endpoint
// ENDPOINT of the started (or attached) server DEP (one of `started`; "{{" stays for the
// next expansion). Other braces ({port:NAME}, {dir}) are left as they are.
// InvalidArgument when DEP is one of `all_names` but not among `server`'s
// deps (it may not be ready yet), or when it has no such endpoint (naming
// those it has).
absl::StatusOr<std::string> WithDepAddresses(absl::string_view text, const ServerSpec& server,
                                             const std::vector<std::string>& all_names,
                                             const std::vector<ServerAddresses>& started);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_SPEC_H_
