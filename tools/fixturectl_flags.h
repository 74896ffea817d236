// fixturectl's command line: the command word, the ordered --server groups,
// the other flags, and CMD after "--".
//
// The flags are absl flags (defined in fixturectl_flags.cc, the one place that
// reads them), but the command line is not parsed by absl::ParseCommandLine:
// a --name, --arg, --ready, --port, --env, --stop_signal or --socket_activation belongs to the --server before it,
// which absl's parser cannot express. Parse() walks argv itself and sets every other flag through absl's flag
// reflection, so each value is still checked by its flag's type
// ("--timeout=soon" fails as absl words it). The result holds every value a
// command needs; nothing else reads the flags.
//
//   absl::StatusOr<CommandLine> line = Parse(argc, argv);
//   // fixturectl run --server=a --name=x --arg=1 --server=b --ready=sd_notify -- cmd -v
//   //   -> command "run", servers {a, "x", {"1"}} and {b, "b", {}}, cmd {"cmd", "-v"}
#ifndef FIXTURE_TOOLS_FIXTURECTL_FLAGS_H_
#define FIXTURE_TOOLS_FIXTURECTL_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fixture/readiness.h"

namespace fixturectl {

// One --server group: --server=PATH and the per-server flags after it.
struct ServerSpec {
  std::string binary;
  // --name, or the binary's file name when none is given.
  std::string name;
  std::vector<std::string> args;
  // --ready (fixture/readiness_flag.h), default the launch protocol.
  fixture::Readiness ready;
  // --port (repeatable): ports to reserve, by name.
  std::vector<std::string> ports;
  // --port=NAME=N, and a run's --port=SERVER.NAME=N: fixed ports
  // (FixtureOptions.fixed_ports; a foreign server's NAME is also reserved).
  std::map<std::string, int> fixed_ports;
  // --env=K=V (repeatable).
  std::vector<std::pair<std::string, std::string>> env;
  // --stop_signal (a foreign server's), 0 for the default.
  int stop_signal = 0;
  // --socket_activation: the --port sockets handed over listening.
  bool socket_activation = false;
  // From a --spec only (proto/spec.proto): the names this one waits for,
  // and whether it is a one-shot task rather than a server.
  std::vector<std::string> deps;
  bool task = false;
};

struct CommandLine {
  // "run", "status", ... as typed (main rejects unknown words); "help" for
  // --help or -h anywhere before "--" (then nothing else is read or filled
  // in).
  std::string command;
  std::vector<ServerSpec> servers;
  // Everything after the first "--", flags and "--" included.
  std::vector<std::string> cmd;

  // The other flags' values: as given, else their defaults.
  absl::Duration ready_timeout;  // run
  absl::Duration grace;          // run, shutdown
  absl::Duration drain;          // shutdown: ShutdownRequest.drain
  absl::Duration kill_after;     // run
  std::string log_dir;           // run
  std::string spec;              // run: --spec, a proto/spec.proto text file
  // run: --port=SERVER.NAME=N before any --server, for a server of the
  // --spec (or any): {server, name, port}, applied by FixPorts().
  struct FixedPort {
    std::string server;
    std::string name;
    int port = 0;
  };
  std::vector<FixedPort> fixed_ports;
  bool junit = false;      // run: --junit, write XML_OUTPUT_FILE
  std::string control;     // status, wait-ready, shutdown, watch
  absl::Duration timeout;  // status, wait-ready, shutdown
  bool json = false;       // status, faults

  // fault: what the fault matches, does and hits (proto/control.proto
  // FaultSpec); the optional ones are unset unless given.
  std::string method;
  std::string metadata;  // K=V as given
  std::string code;      // a status code name or number as given
  std::string message;
  absl::Duration delay;
  std::optional<double> rate;
  std::optional<int64_t> count;
  std::optional<uint64_t> seed;
  // clear-faults: one fault; unset means all.
  std::optional<int64_t> id;
  // drop-connections: how long to refuse connections after closing them.
  absl::Duration refuse_for;

  // restart, kill, pause, resume: the server's name (the word after the
  // command), the supervisor's address (--supervisor, else
  // $FIXTURE_SUPERVISOR), and kill's --signal as given ("" for SIGKILL).
  std::string target;
  std::string supervisor;
  std::string signal;
};

// True for "restart", "kill", "pause" and "resume": the commands of `fixturectl
// run`'s supervisor (fixturectl_supervise.h), which name a server after the
// command word.
bool IsSupervisorCommand(absl::string_view command);

// Parses argv (argv[0] is the program). Flags take "--flag=value",
// "--flag value" or, for a bool flag, "--flag" and "--noflag"; one leading
// '-' works as well as two. InvalidArgument with the reason (for people) for
// an unknown flag, a bad or missing value, a --name/--arg before any
// --server, a second command word, no command, or --server/CMD with a
// command other than run. Sets the absl flags it is given (a test restores
// them with absl::FlagSaver).
absl::StatusOr<CommandLine> Parse(int argc, const char* const* argv);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_FLAGS_H_
