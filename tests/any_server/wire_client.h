// Tiny clients of the wire protocols the third-party servers in these tests
// speak, written against the sockets only, so the tests need no client
// library: one request and its reply, with a deadline.
//
//   absl::StatusOr<std::string> pong = RedisCommand("unix:/tmp/x/redis.sock", {"PING"});  // "+PONG"
//   absl::StatusOr<HttpReply> page = HttpGet("127.0.0.1:8080", "/");                   // {200, "..."}
#ifndef FIXTURE_TESTS_ANY_SERVER_WIRE_CLIENT_H_
#define FIXTURE_TESTS_ANY_SERVER_WIRE_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fixture::testing {

// Sends one command to a redis server at `address` ("host:port" or
// "unix:/path") in RESP and returns the first line of its reply, e.g. "+OK",
// "$1" followed by the bulk string's line joined with '\n' ("$1\nv"). The
// errno text of connect/read/write, DeadlineExceeded after `timeout`.
absl::StatusOr<std::string> RedisCommand(absl::string_view address, const std::vector<std::string>& command,
                                         absl::Duration timeout = absl::Seconds(5));

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET `path` over HTTP/1.0 from `address` ("host:port"); the status code and
// the body. Errors as for RedisCommand; DataLoss for a reply without a status
// line.
absl::StatusOr<HttpReply> HttpGet(absl::string_view address, absl::string_view path,
                                  absl::Duration timeout = absl::Seconds(5));

}  // namespace fixture::testing

#endif  // FIXTURE_TESTS_ANY_SERVER_WIRE_CLIENT_H_
