// fixturectl's command-line parser: the --server groups, "--", bool flags,
// typed values and the errors users see.
#include "fixture/tools/fixturectl_flags.h"

#include <map>
#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixturectl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ParseTest : public ::testing::Test {
 protected:
  // Parses "fixturectl" + `args`.
  absl::StatusOr<CommandLine> ParseArgs(std::vector<std::string> args) {
    args.insert(args.begin(), "fixturectl");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    return Parse(static_cast<int>(argv.size()), argv.data());
  }

  // The message of the error parsing `args` gives ("" if it parses).
  std::string ErrorOf(std::vector<std::string> args) {
    absl::StatusOr<CommandLine> line = ParseArgs(std::move(args));
    if (line.ok()) return "";
    EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(line.status().message());
  }

 private:
  absl::FlagSaver saver_;  // Parse() sets the absl flags: each test starts from the defaults.
};

TEST_F(ParseTest, NameAndArgBelongToThePrecedingServer) {
  absl::StatusOr<CommandLine> line = ParseArgs({"run", "--server=bin/a", "--name=x", "--arg=1", "--arg", "2",
                                                "--server", "pkg/b", "--arg=3", "--", "cmd", "-v"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->command, "run");
  ASSERT_EQ(line->servers.size(), 2u);
  EXPECT_EQ(line->servers[0].binary, "bin/a");
  EXPECT_EQ(line->servers[0].name, "x");
  EXPECT_THAT(line->servers[0].args, ElementsAre("1", "2"));
  EXPECT_EQ(line->servers[1].binary, "pkg/b");
  EXPECT_EQ(line->servers[1].name, "b");  // The file name when no --name is given.
  EXPECT_THAT(line->servers[1].args, ElementsAre("3"));
  EXPECT_THAT(line->cmd, ElementsAre("cmd", "-v"));
}

TEST_F(ParseTest, SocketActivationBelongsToThePrecedingServer) {
  absl::StatusOr<CommandLine> line = ParseArgs({"run", "--server=a", "--port=http", "--socket_activation", "--server=b",
                                                "--server=c", "--socket_activation=false", "--", "true"});
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_EQ(line->servers.size(), 3u);
  EXPECT_TRUE(line->servers[0].socket_activation);
  EXPECT_THAT(line->servers[0].ports, ElementsAre("http"));
  EXPECT_FALSE(line->servers[1].socket_activation);
  EXPECT_FALSE(line->servers[2].socket_activation);
  EXPECT_EQ(ErrorOf({"run", "--socket_activation", "--server=a", "--", "true"}),
            "--socket_activation before any --server");
}

TEST_F(ParseTest, FixedPortsBelongToTheirServerOrNameIt) {
  absl::StatusOr<CommandLine> line =
      ParseArgs({"run", "--port=kv.grpc=50051", "--server=a", "--port=http", "--port=grpc=50052", "--", "true"});
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_EQ(line->fixed_ports.size(), 1u);
  EXPECT_EQ(line->fixed_ports[0].server, "kv");
  EXPECT_EQ(line->fixed_ports[0].name, "grpc");
  EXPECT_EQ(line->fixed_ports[0].port, 50051);
  ASSERT_EQ(line->servers.size(), 1u);
  EXPECT_THAT(line->servers[0].ports, ElementsAre("http"));
  EXPECT_EQ(line->servers[0].fixed_ports, (std::map<std::string, int>{{"grpc", 50052}}));
  // A dotted server name keeps its dots: the port's name is after the last.
  line = ParseArgs({"run", "--port=kv.v2.grpc=1", "--", "true"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->fixed_ports[0].server, "kv.v2");

  EXPECT_THAT(ErrorOf({"run", "--server=a", "--port=grpc=0"}), HasSubstr("--port=grpc=0: write NAME, NAME=PORT"));
  EXPECT_THAT(ErrorOf({"run", "--server=a", "--port=grpc=http"}), HasSubstr("(1-65535)"));
  EXPECT_THAT(ErrorOf({"run", "--port=grpc=5"}), HasSubstr("before any --server, write SERVER.NAME=PORT"));
  EXPECT_EQ(ErrorOf({"run", "--port=http"}), "--port before any --server");
}

TEST_F(ParseTest, NameOrArgBeforeAnyServerIsAnError) {
  EXPECT_EQ(ErrorOf({"run", "--name=x", "--server=a", "--", "true"}), "--name before any --server");
  EXPECT_EQ(ErrorOf({"run", "--arg=x", "--server=a", "--", "true"}), "--arg before any --server");
}

TEST_F(ParseTest, ServerNeedsAPath) {
  EXPECT_EQ(ErrorOf({"run", "--server=", "--", "true"}), "--server needs a path");
  EXPECT_EQ(ErrorOf({"run", "--server"}), "flag --server needs a value");
}

TEST_F(ParseTest, UnknownFlags) {
  EXPECT_EQ(ErrorOf({"status", "--frobnicate"}), "unknown flag --frobnicate");
  EXPECT_EQ(ErrorOf({"status", "-"}), "unknown flag --");
  // "no" only negates a bool flag, and only without a value.
  EXPECT_EQ(ErrorOf({"status", "--noserver"}), "unknown flag --noserver");
  EXPECT_EQ(ErrorOf({"status", "--nojson=true"}), "unknown flag --nojson");
}

TEST_F(ParseTest, EverythingAfterTheFirstDoubleDashIsCmd) {
  absl::StatusOr<CommandLine> line =
      ParseArgs({"run", "--server=a", "--", "cmd", "--server=b", "--", "--frobnicate", "status"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->servers.size(), 1u);
  EXPECT_THAT(line->cmd, ElementsAre("cmd", "--server=b", "--", "--frobnicate", "status"));
}

TEST_F(ParseTest, NothingAfterDoubleDashLeavesCmdEmpty) {
  absl::StatusOr<CommandLine> line = ParseArgs({"run", "--server=a", "--"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->cmd, IsEmpty());  // Run() reports it.
}

TEST_F(ParseTest, FaultFlagsAreUnsetUnlessGiven) {
  absl::StatusOr<CommandLine> line =
      ParseArgs({"fault", "--control=unix:/x", "--method=/p.S/M", "--code=UNAVAILABLE", "--rate=0", "--delay=50ms"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->method, "/p.S/M");
  EXPECT_EQ(line->code, "UNAVAILABLE");
  EXPECT_EQ(line->delay, absl::Milliseconds(50));
  EXPECT_EQ(line->rate, 0.0);  // Given, though 0.
  EXPECT_EQ(line->count, std::nullopt);
  EXPECT_EQ(line->seed, std::nullopt);
  line = ParseArgs({"clear-faults", "--control=unix:/x"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->id, std::nullopt);
  EXPECT_EQ(line->rate, std::nullopt);
  line = ParseArgs({"clear-faults", "--control=unix:/x", "--id=3"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->id, 3);
}

TEST_F(ParseTest, CommandWordsOutsideCmd) {
  EXPECT_EQ(ErrorOf({"--control=unix:/x"}),
            "no command (run, status, wait-ready, shutdown, watch, fault, faults, clear-faults, drop-connections, "
            "reset, restart, kill, "
            "pause, resume)");
  EXPECT_EQ(ErrorOf({"status", "extra"}), "unexpected argument \"extra\" (CMD goes after --)");
  EXPECT_EQ(ErrorOf({"status", "--server=a"}), "--server, --spec and -- CMD belong to `run`, not `status`");
  EXPECT_EQ(ErrorOf({"status", "--", "true"}), "--server, --spec and -- CMD belong to `run`, not `status`");
  // The command word may come after flags; main rejects an unknown one.
  absl::StatusOr<CommandLine> line = ParseArgs({"--control=unix:/x", "stat"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->command, "stat");
}

TEST_F(ParseTest, SupervisorCommandsNameTheServerAfterTheCommandWord) {
  absl::StatusOr<CommandLine> line = ParseArgs({"kill", "kv", "--signal=TERM", "--supervisor=unix:/s"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->command, "kill");
  EXPECT_EQ(line->target, "kv");
  EXPECT_EQ(line->signal, "TERM");
  EXPECT_EQ(line->supervisor, "unix:/s");
  line = ParseArgs({"--supervisor=unix:/s", "restart", "kv"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->target, "kv");
  EXPECT_EQ(ErrorOf({"pause"}), "`pause NAME`: name the server (one of $FIXTURE_SERVERS in `fixturectl run`'s CMD)");
  EXPECT_EQ(ErrorOf({"resume", "kv", "db"}), "unexpected argument \"db\" (CMD goes after --)");
  // Other commands take no name.
  EXPECT_EQ(ErrorOf({"reset", "kv"}), "unexpected argument \"kv\" (CMD goes after --)");
}

TEST_F(ParseTest, BoolFlagsAndTheirNegation) {
  EXPECT_FALSE(ParseArgs({"status"})->json);
  EXPECT_TRUE(ParseArgs({"status", "--json"})->json);
  EXPECT_TRUE(ParseArgs({"status", "-json"})->json);
  EXPECT_TRUE(ParseArgs({"status", "--json=true"})->json);
  EXPECT_FALSE(ParseArgs({"status", "--json", "--nojson"})->json);
  EXPECT_FALSE(ParseArgs({"status", "--json", "--json=false"})->json);
  // A bool flag takes no value from the next argument.
  EXPECT_EQ(ErrorOf({"status", "--json", "false"}), "unexpected argument \"false\" (CMD goes after --)");
}

TEST_F(ParseTest, TypedValuesAreCheckedByTheirFlags) {
  absl::StatusOr<CommandLine> line = ParseArgs({"run", "--server=a", "--ready_timeout=300ms", "--grace", "50ms",
                                                "--log_dir=/logs", "--kill_after=1s", "--", "true"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->kill_after, absl::Seconds(1));
  EXPECT_EQ(line->ready_timeout, absl::Milliseconds(300));
  EXPECT_EQ(line->grace, absl::Milliseconds(50));
  EXPECT_EQ(line->log_dir, "/logs");
  EXPECT_THAT(ErrorOf({"wait-ready", "--timeout=soon"}), HasSubstr("--timeout=soon: Illegal value 'soon'"));
  EXPECT_THAT(ErrorOf({"status", "--json=maybe"}), HasSubstr("--json=maybe: "));
}

TEST_F(ParseTest, DefaultsWhenNotGiven) {
  absl::StatusOr<CommandLine> line = ParseArgs({"shutdown", "--control=unix:/tmp/c.sock"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->control, "unix:/tmp/c.sock");
  EXPECT_EQ(line->grace, absl::Milliseconds(200));
  EXPECT_EQ(line->timeout, absl::Seconds(10));
  EXPECT_EQ(line->ready_timeout, absl::Seconds(10));
  EXPECT_EQ(line->kill_after, absl::Seconds(3));
}

TEST_F(ParseTest, HelpWinsOverWhatFollows) {
  for (const char* help : {"--help", "-h", "-help", "--help=x"}) {
    absl::StatusOr<CommandLine> line = ParseArgs({"status", help, "--frobnicate"});
    ASSERT_TRUE(line.ok()) << help << ": " << line.status();
    EXPECT_EQ(line->command, "help") << help;
  }
  // But not over an error before it, nor inside CMD.
  EXPECT_EQ(ErrorOf({"--frobnicate", "--help"}), "unknown flag --frobnicate");
  EXPECT_EQ(ParseArgs({"run", "--server=a", "--", "cmd", "--help"})->command, "run");
}

}  // namespace
}  // namespace fixturectl
