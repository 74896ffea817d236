// fixturectl's fault commands, the parts without a server: the flags of
// `fixturectl fault` as a FaultSpec, and a fault as one line of text.
//
//   fixturectl fault --control=ADDR --method=/pkg.Svc/Put --code=UNAVAILABLE --rate=0.3 --seed=7
//   fixturectl faults --control=ADDR        # one line per fault, with its hits
//   fixturectl clear-faults --control=ADDR [--id=N]
//
//   absl::StatusOr<fixture::v1::FaultSpec> spec = FaultSpecFromFlags(line);
//   ... InjectFault ... ListFaults ...
//   puts(FaultLine(fault).c_str());  // "3 /pkg.Svc/Put code=UNAVAILABLE rate=0.3 seed=7 hits=2"
#ifndef FIXTURE_TOOLS_FIXTURECTL_FAULTS_H_
#define FIXTURE_TOOLS_FIXTURECTL_FAULTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "fixture/proto/control.pb.h"
#include "fixture/tools/fixturectl_flags.h"

namespace fixturectl {

// The fault `line`'s flags describe. InvalidArgument naming the flag for a
// missing --method, a --code that names no status code, a --metadata
// without '=', and both --rate and --count. (The server checks the rest: the
// method pattern, the rate, the count, the delay.)
absl::StatusOr<fixture::v1::FaultSpec> FaultSpecFromFlags(const CommandLine& line);

// "ID METHOD [metadata K=V] [code=NAME [message=\"...\"]] [delay=D] [rate=R seed=S | count=N] hits=H".
std::string FaultLine(const fixture::v1::Fault& fault);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_FAULTS_H_
