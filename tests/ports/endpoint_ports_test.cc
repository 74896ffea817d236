// FIXTURE_ENDPOINT_PORTS (launch/protocol.h): the codec both sides use, and
// bad values, which a server built on server/ refuses at start.
#include <map>
#include <string>

#include "fixture/launch/protocol.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fixture::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(EndpointPortsTest, EncodedPortsParseBackToTheSame) {
  const std::map<std::string, int> ports = {{"grpc", 41234}, {"admin", 1}, {"metrics_2", 65535}};
  EXPECT_EQ(launch::EncodeEndpointPorts(ports), "admin=1,grpc=41234,metrics_2=65535");
  EXPECT_THAT(launch::ParseEndpointPorts(launch::EncodeEndpointPorts(ports)), IsOkAndHolds(ports));
  EXPECT_THAT(launch::ParseEndpointPorts(""), IsOkAndHolds(IsEmpty()));
}

TEST(EndpointPortsTest, AnEntryThatIsNotNameEqualsPortIsRefusedQuotingIt) {
  for (const char* bad : {"grpc", "grpc=", "=41234", "grpc=0", "grpc=65536", "grpc=-1", "grpc=12ab", "grpc=1=2"}) {
    EXPECT_THAT(launch::ParseEndpointPorts(bad),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(absl::StrCat("FIXTURE_ENDPOINT_PORTS=\"", bad, "\"")),
                               HasSubstr("is not NAME=PORT with a port in 1..65535"))))
        << bad;
  }
}

TEST(EndpointPortsTest, AnEndpointGivenTwiceIsRefused) {
  EXPECT_THAT(launch::ParseEndpointPorts("grpc=1,grpc=2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("endpoint \"grpc\" is given twice")));
}

}  // namespace
}  // namespace fixture::testing
