#include "fixture/tools/fixturectl_flags.h"

#include <stdlib.h>

#include <cstddef>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "fixture/launch/defaults.h"
#include "fixture/launch/exit_info.h"
#include "fixture/readiness_flag.h"

ABSL_FLAG(std::string, server, "",
          "run: a server binary to start (repeatable; --name and --arg after it apply to it).");
ABSL_FLAG(std::string, name, "", "run: the name of the preceding --server (default: its file name).");
ABSL_FLAG(std::string, arg, "", "run: an argument for the preceding --server (repeatable).");
ABSL_FLAG(std::string, ready, "launch",
          "run: how the preceding --server tells it is ready: launch, sd_notify, grpc_health[:ENDPOINT[/SERVICE]], "
          "log:REGEX, tcp:ENDPOINT, http:ENDPOINT[/PATH], exec:CMD.");
ABSL_FLAG(std::string, port, "",
          "run: a port to reserve for the preceding --server, by name (repeatable); {port:NAME} in its --arg and "
          "--env values.");
ABSL_FLAG(std::string, env, "", "run: K=V, a variable for the preceding --server (repeatable).");
ABSL_FLAG(std::string, stop_signal, "",
          "run: the signal that stops the preceding --server when it does not speak the launch protocol "
          "(default SIGTERM).");
ABSL_FLAG(bool, socket_activation, false,
          "run: hand the preceding --server's --port sockets to it listening, by socket activation (LISTEN_FDS, "
          "LISTEN_FDNAMES; fds 3, 4, ... in --port order).");
ABSL_FLAG(std::string, spec, "",
          "run: a file of server definitions (proto/spec.proto, text format; fixture_test writes it): its servers and "
          "tasks are started in dependency order, before any --server.");
ABSL_FLAG(bool, junit, false,
          "run: write Bazel's XML_OUTPUT_FILE: a test case for each server's start and stop, then CMD's own cases "
          "(fixture_test sets it).");
ABSL_FLAG(absl::Duration, ready_timeout, fixture::kDefaultReadyTimeout,
          "run: how long each server may take to be ready.");
ABSL_FLAG(absl::Duration, grace, fixture::kDefaultGrace, "run, shutdown: grace period for in-flight RPCs.");
ABSL_FLAG(absl::Duration, drain, absl::ZeroDuration(),
          "shutdown: how long the server keeps taking new calls (health NOT_SERVING) before it stops.");
ABSL_FLAG(absl::Duration, kill_after, absl::Seconds(3),
          "run: how long CMD may take to exit after fixturectl forwards a signal to it, and processes left behind "
          "after SIGTERM, before they get SIGKILL.");
ABSL_FLAG(std::string, log_dir, "",
          "run: keep the servers' stdout/stderr here (default: TEST_UNDECLARED_OUTPUTS_DIR).");
ABSL_FLAG(std::string, control, "", "status, wait-ready, shutdown, watch: the control address (unix:/path).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "status, wait-ready, shutdown: how long to wait.");
ABSL_FLAG(bool, json, false, "status, faults: print JSON instead of text.");
ABSL_FLAG(std::string, method, "",
          "fault: the full method name to fault (/package.Service/Method), or a prefix ending in *.");
ABSL_FLAG(std::string, metadata, "", "fault: K=V, only calls with this client metadata.");
ABSL_FLAG(std::string, code, "", "fault: fail the calls with this status code (UNAVAILABLE, 14, ...).");
ABSL_FLAG(std::string, message, "", "fault: the failed calls' status message.");
ABSL_FLAG(absl::Duration, delay, absl::ZeroDuration(), "fault: delay the calls this long before handling them.");
ABSL_FLAG(double, rate, 1, "fault: the probability that a matching call is hit (default: every call).");
ABSL_FLAG(int64_t, count, 0, "fault: hit only the next N matching calls.");
ABSL_FLAG(uint64_t, seed, 0, "fault: seed of the --rate draws (default: the server picks one).");
ABSL_FLAG(int64_t, id, 0, "clear-faults: the fault to clear (default: all).");
ABSL_FLAG(absl::Duration, refuse_for, absl::ZeroDuration(),
          "drop-connections: go on closing the connection of every call that arrives for this long.");
ABSL_FLAG(std::string, supervisor, "",
          "restart, kill, pause, resume: the supervisor address of `fixturectl run` (default: $FIXTURE_SUPERVISOR).");
ABSL_FLAG(std::string, signal, "", "kill: the signal to send (SIGTERM, TERM, 15; default SIGKILL).");

namespace fixturectl {
namespace {

// A flag argument taken apart: "--name=value" or "-name" (no value).
struct FlagArgument {
  std::string name;
  std::optional<std::string> value;
};

FlagArgument SplitFlag(absl::string_view arg) {
  absl::ConsumePrefix(&arg, "-");
  absl::ConsumePrefix(&arg, "-");
  size_t equals = arg.find('=');
  if (equals == absl::string_view::npos) return {std::string(arg), std::nullopt};
  return {std::string(arg.substr(0, equals)), std::string(arg.substr(equals + 1))};
}

// A flag found on the command line, with the value it is given.
struct FlagValue {
  absl::CommandLineFlag* flag;
  std::string value;
};

// The flag `arg` names: a flag of that name, or for "no<name>" without a
// value the bool flag <name> (then *negated). nullptr if there is none.
absl::CommandLineFlag* FindFlag(const FlagArgument& arg, bool* negated) {
  *negated = false;
  if (absl::CommandLineFlag* flag = absl::FindCommandLineFlag(arg.name)) return flag;
  absl::string_view positive = arg.name;
  if (arg.value.has_value() || !absl::ConsumePrefix(&positive, "no")) return nullptr;
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(positive);
  if (flag == nullptr || !flag->IsOfType<bool>()) return nullptr;
  *negated = true;
  return flag;
}

// The flag args[*i] names and its value: the one after '=', else "true" for
// a bool flag ("false" for its no-form), else args[*i + 1] (then *i moves on
// to it). InvalidArgument for an unknown flag or a missing value.
absl::StatusOr<FlagValue> ReadFlag(absl::Span<const char* const> args, size_t* i) {
  FlagArgument arg = SplitFlag(args[*i]);
  bool negated = false;
  absl::CommandLineFlag* flag = FindFlag(arg, &negated);
  if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", arg.name));
  if (arg.value.has_value()) return FlagValue{flag, *arg.value};
  if (flag->IsOfType<bool>()) return FlagValue{flag, negated ? "false" : "true"};
  if (*i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("flag --", arg.name, " needs a value"));
  return FlagValue{flag, args[++*i]};
}

// The N of a --port=...=N (`equals`: where its '=' is), or InvalidArgument.
absl::StatusOr<int> PortNumber(const std::string& value, size_t equals) {
  int port = 0;
  if (equals == 0 || !absl::SimpleAtoi(value.substr(equals + 1), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port=", value, ": write NAME, NAME=PORT, or before any --server SERVER.NAME=PORT (1-65535)"));
  }
  return port;
}

// Applies a flag of one --server group to `server`. InvalidArgument for a
// value that cannot be one: a --ready none of the forms, an --env without
// '=', a --stop_signal that names no signal.
absl::Status ApplyServerFlag(absl::string_view name, const std::string& value, ServerSpec* server) {
  if (name == "name") {
    server->name = value;
  } else if (name == "arg") {
    server->args.push_back(value);
  } else if (name == "port") {
    size_t equals = value.find('=');
    if (equals == std::string::npos) {
      server->ports.push_back(value);
    } else {
      absl::StatusOr<int> port = PortNumber(value, equals);
      if (!port.ok()) return port.status();
      server->fixed_ports[value.substr(0, equals)] = *port;
    }
  } else if (name == "ready") {
    absl::StatusOr<fixture::Readiness> ready = fixture::ParseReadiness(value);
    if (!ready.ok()) return absl::InvalidArgumentError(absl::StrCat("--ready=", value, ": ", ready.status().message()));
    server->ready = *std::move(ready);
  } else if (name == "env") {
    size_t equals = value.find('=');
    if (equals == std::string::npos || equals == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--env=", value, ": write it as NAME=VALUE"));
    }
    server->env.emplace_back(value.substr(0, equals), value.substr(equals + 1));
  } else if (name == "stop_signal") {
    std::optional<int> signal = fixture::SignalNumber(value);
    if (!signal.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("--stop_signal=", value, ": no such signal (SIGTERM, INT, 15)"));
    }
    server->stop_signal = *signal;
  } else if (name == "socket_activation") {
    if (!absl::SimpleAtob(value, &server->socket_activation)) {
      return absl::InvalidArgumentError(absl::StrCat("--socket_activation=", value, ": true or false"));
    }
  }
  return absl::OkStatus();
}

// Applies one flag to `line`: --server opens a group, --name and --arg go to
// the latest group, any other flag is set through absl (its type checks the
// value). InvalidArgument for an empty --server, a --name or --arg before
// any --server, or a value the flag's type rejects.
absl::Status ApplyFlag(const FlagValue& given, CommandLine* line) {
  absl::string_view name = given.flag->Name();
  if (name == "server") {
    if (given.value.empty()) return absl::InvalidArgumentError("--server needs a path");
    line->servers.push_back(ServerSpec{given.value});
    return absl::OkStatus();
  }
  if (name == "port" && line->servers.empty() && given.value.find('=') != std::string::npos) {
    // --port=SERVER.NAME=N, for a server of the --spec.
    const size_t equals = given.value.find('=');
    const size_t dot = given.value.rfind('.', equals);
    absl::StatusOr<int> port = PortNumber(given.value, equals);
    if (!port.ok()) return port.status();
    if (dot == std::string::npos || dot == 0 || dot + 1 == equals) {
      return absl::InvalidArgumentError(
          absl::StrCat("--port=", given.value,
                       ": before any --server, write SERVER.NAME=PORT (the server's name, a dot, the port's)"));
    }
    line->fixed_ports.push_back({given.value.substr(0, dot), given.value.substr(dot + 1, equals - dot - 1), *port});
    return absl::OkStatus();
  }
  if (name == "name" || name == "arg" || name == "ready" || name == "port" || name == "env" || name == "stop_signal" ||
      name == "socket_activation") {
    if (line->servers.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " before any --server"));
    return ApplyServerFlag(name, given.value, &line->servers.back());
  }
  std::string error;
  if (!given.flag->ParseFrom(given.value, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, "=", given.value, ": ", error));
  }
  return absl::OkStatus();
}

// True for --help, -h (with or without a value).
bool IsHelp(absl::string_view arg) {
  std::string name = SplitFlag(arg).name;
  return name == "help" || name == "h";
}

// `line` once argv is read (`given`: the names of the flags it had): checked (a command, and --server and CMD only
// with run), each server named, the flags' values copied in.
absl::StatusOr<CommandLine> Finish(CommandLine line, const absl::flat_hash_set<std::string>& given) {
  if (line.command.empty()) {
    return absl::InvalidArgumentError(
        "no command (run, status, wait-ready, shutdown, watch, fault, faults, clear-faults, drop-connections, "
        "reset, restart, kill, "
        "pause, resume)");
  }
  if (line.command != "run" && (!line.servers.empty() || !line.cmd.empty() || !absl::GetFlag(FLAGS_spec).empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--server, --spec and -- CMD belong to `run`, not `", line.command, "`"));
  }
  if (IsSupervisorCommand(line.command) && line.target.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", line.command, " NAME`: name the server (one of $FIXTURE_SERVERS in `fixturectl run`'s CMD)"));
  }
  for (ServerSpec& server : line.servers) {
    if (server.name.empty()) server.name = server.binary.substr(server.binary.rfind('/') + 1);
  }
  line.ready_timeout = absl::GetFlag(FLAGS_ready_timeout);
  line.grace = absl::GetFlag(FLAGS_grace);
  line.drain = absl::GetFlag(FLAGS_drain);
  line.kill_after = absl::GetFlag(FLAGS_kill_after);
  line.log_dir = absl::GetFlag(FLAGS_log_dir);
  line.spec = absl::GetFlag(FLAGS_spec);
  line.junit = absl::GetFlag(FLAGS_junit);
  line.control = absl::GetFlag(FLAGS_control);
  line.timeout = absl::GetFlag(FLAGS_timeout);
  line.json = absl::GetFlag(FLAGS_json);
  line.method = absl::GetFlag(FLAGS_method);
  line.metadata = absl::GetFlag(FLAGS_metadata);
  line.code = absl::GetFlag(FLAGS_code);
  line.message = absl::GetFlag(FLAGS_message);
  line.delay = absl::GetFlag(FLAGS_delay);
  if (given.contains("rate")) line.rate = absl::GetFlag(FLAGS_rate);
  if (given.contains("count")) line.count = absl::GetFlag(FLAGS_count);
  if (given.contains("seed")) line.seed = absl::GetFlag(FLAGS_seed);
  if (given.contains("id")) line.id = absl::GetFlag(FLAGS_id);
  line.refuse_for = absl::GetFlag(FLAGS_refuse_for);
  line.supervisor = absl::GetFlag(FLAGS_supervisor);
  if (line.supervisor.empty()) {
    if (const char* inherited = getenv("FIXTURE_SUPERVISOR")) line.supervisor = inherited;
  }
  line.signal = absl::GetFlag(FLAGS_signal);
  return line;
}

}  // namespace

bool IsSupervisorCommand(absl::string_view command) {
  return command == "restart" || command == "kill" || command == "pause" || command == "resume";
}

absl::StatusOr<CommandLine> Parse(int argc, const char* const* argv) {
  absl::Span<const char* const> args(argv + 1, argc > 1 ? argc - 1 : 0);
  CommandLine line;
  absl::flat_hash_set<std::string> given;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      line.cmd.assign(args.begin() + i + 1, args.end());
      break;
    }
    if (!absl::StartsWith(arg, "-")) {
      if (IsSupervisorCommand(line.command) && line.target.empty()) {
        line.target = std::string(arg);
        continue;
      }
      if (!line.command.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\" (CMD goes after --)"));
      }
      line.command = std::string(arg);
      continue;
    }
    if (IsHelp(arg)) {
      CommandLine help;
      help.command = "help";
      return help;
    }
    absl::StatusOr<FlagValue> flag = ReadFlag(args, &i);
    if (!flag.ok()) return flag.status();
    if (absl::Status applied = ApplyFlag(*flag, &line); !applied.ok()) return applied;
    given.insert(std::string(flag->flag->Name()));
  }
  return Finish(std::move(line), given);
}

}  // namespace fixturectl
