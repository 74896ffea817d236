// A test's client side on 127.0.0.1: connect, and read a reply until the
// server closes the connection (HTTP/1.0).
//
//   ASSERT_OK_AND_ASSIGN(UniqueFd connection, ConnectLoopback(port));
//   ... write a request ...
//   ASSERT_OK_AND_ASSIGN(std::string reply, ReadUntilClosed(connection.get(), deadline));
#ifndef FIXTURE_TESTS_PORTS_LOOPBACK_CLIENT_H_
#define FIXTURE_TESTS_PORTS_LOOPBACK_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fixture/launch/unique_fd.h"

namespace fixture::testing {

// A TCP connection to 127.0.0.1:`port`; the errno text of connect(2)
// (UNAVAILABLE "... Connection refused" when nothing listens).
absl::StatusOr<UniqueFd> ConnectLoopback(int port);

// Everything read from `fd` until EOF; DeadlineExceeded (with what came so
// far) at `deadline`.
absl::StatusOr<std::string> ReadUntilClosed(int fd, absl::Time deadline);

// Connects, sends "GET / HTTP/1.0" and returns the connection, whose reply
// ReadUntilClosed() collects.
absl::StatusOr<UniqueFd> SendHttpGet(int port);

}  // namespace fixture::testing

#endif  // FIXTURE_TESTS_PORTS_LOOPBACK_CLIENT_H_
