// Log: one line on stderr, prefixed with the server's name and pid:
// `fixture server "kv"[4242]: SIGTERM received: stopping`. Internal to server/.
#ifndef FIXTURE_SERVER_LOG_H_
#define FIXTURE_SERVER_LOG_H_

#include <stdio.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_format.h"

namespace fixture::server {

template <typename... Args>
void Log(const std::string& name, const absl::FormatSpec<Args...>& format, const Args&... args) {
  std::string line = absl::StrFormat("fixture server %s[%d]: ", name.empty() ? "" : "\"" + name + "\" ", getpid());
  absl::StrAppendFormat(&line, format, args...);
  line += "\n";
  fputs(line.c_str(), stderr);
  fflush(stderr);
}

}  // namespace fixture::server

#endif  // FIXTURE_SERVER_LOG_H_
