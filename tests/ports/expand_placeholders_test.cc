// ExpandPlaceholders (fixture/ports.h): "{port:NAME}", "{dir}" and "{{".
#include <map>
#include <string>

#include "fixture/ports.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::map<std::string, int> kPorts = {{"redis", 6379}, {"admin", 8081}};
constexpr char kDir[] = "/tmp/fixture-Ab12Cd";

TEST(ExpandPlaceholdersTest, PortsAndDirAnywhereAndAsOftenAsGiven) {
  EXPECT_THAT(ExpandPlaceholders("--port={port:redis}", kPorts, kDir), IsOkAndHolds("--port=6379"));
  EXPECT_THAT(ExpandPlaceholders("{port:redis}", kPorts, kDir), IsOkAndHolds("6379"));
  EXPECT_THAT(ExpandPlaceholders("127.0.0.1:{port:admin},127.0.0.1:{port:redis},{port:admin}", kPorts, kDir),
              IsOkAndHolds("127.0.0.1:8081,127.0.0.1:6379,8081"));
  EXPECT_THAT(ExpandPlaceholders("--unixsocket={dir}/redis.sock", kPorts, kDir),
              IsOkAndHolds("--unixsocket=/tmp/fixture-Ab12Cd/redis.sock"));
  EXPECT_THAT(ExpandPlaceholders("{dir}{port:redis}{dir}", kPorts, kDir),
              IsOkAndHolds("/tmp/fixture-Ab12Cd6379/tmp/fixture-Ab12Cd"));
}

TEST(ExpandPlaceholdersTest, TextWithoutPlaceholdersIsUnchanged) {
  EXPECT_THAT(ExpandPlaceholders("", kPorts, kDir), IsOkAndHolds(""));
  EXPECT_THAT(ExpandPlaceholders("--save", {}, ""), IsOkAndHolds("--save"));
  // Other braces, as in JSON or shell, are left alone.
  EXPECT_THAT(ExpandPlaceholders(R"({"a": {"b": 1}} ${HOME} {port} {dir )", kPorts, kDir),
              IsOkAndHolds(R"({"a": {"b": 1}} ${HOME} {port} {dir )"));
  EXPECT_THAT(ExpandPlaceholders("}}", kPorts, kDir), IsOkAndHolds("}}"));
}

TEST(ExpandPlaceholdersTest, DoubleBraceIsALiteralBrace) {
  EXPECT_THAT(ExpandPlaceholders("{{port:redis}", kPorts, kDir), IsOkAndHolds("{port:redis}"));
  EXPECT_THAT(ExpandPlaceholders("{{dir}", kPorts, kDir), IsOkAndHolds("{dir}"));
  EXPECT_THAT(ExpandPlaceholders("{{{port:redis}", kPorts, kDir), IsOkAndHolds("{6379"));
  EXPECT_THAT(ExpandPlaceholders("{{{{", kPorts, kDir), IsOkAndHolds("{{"));
  // A "{port:" no longer starts a placeholder once escaped, so it need not close.
  EXPECT_THAT(ExpandPlaceholders("{{port:", kPorts, kDir), IsOkAndHolds("{port:"));
}

TEST(ExpandPlaceholdersTest, UnknownPortNamesTheReservedOnes) {
  EXPECT_THAT(ExpandPlaceholders("--port={port:redsi}", kPorts, kDir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--port={port:redsi}"), HasSubstr("{port:redsi} names no reserved port"),
                             HasSubstr(R"(the reserved ones are "admin", "redis")"))));
  EXPECT_THAT(ExpandPlaceholders("{port:}", kPorts, kDir),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("{port:} names no reserved port")));
  EXPECT_THAT(ExpandPlaceholders("{port:redis}", {}, kDir),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no ports are reserved")));
}

TEST(ExpandPlaceholdersTest, UnterminatedPortIsAnError) {
  EXPECT_THAT(ExpandPlaceholders("--port={port:redis", kPorts, kDir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--port={port:redis"), HasSubstr("\"{port:\" at offset 7 is not closed"))));
}

TEST(ExpandPlaceholdersTest, DirWithoutADirectoryIsAnError) {
  EXPECT_THAT(ExpandPlaceholders("{dir}/x", kPorts, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("{dir} with no private directory")));
}

}  // namespace
}  // namespace fixture::testing
