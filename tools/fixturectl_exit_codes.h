// fixturectl's exit statuses, and Fail(), the one way it reports an error.
//
// Scripts and fixture_test wrappers act on these numbers (sysexits.h where
// one fits); `fixturectl --help` lists them. Every command reports an error
// as "fixturectl: <message>" on stderr and exits with one of these:
//
//   if (line.cmd.empty()) return Fail(kExitUsage, "run needs a command after --");
#ifndef FIXTURE_TOOLS_FIXTURECTL_EXIT_CODES_H_
#define FIXTURE_TOOLS_FIXTURECTL_EXIT_CODES_H_

#include <stdio.h>

#include <string>

#include "absl/strings/string_view.h"

namespace fixturectl {

inline constexpr int kExitUsage = 64;           // Bad command line.
inline constexpr int kExitNoServerBinary = 66;  // A --server binary does not exist or is not executable.
inline constexpr int kExitNoSuchFault = 67;     // clear-faults --id names no fault in place.
inline constexpr int kExitUnavailable = 69;     // Nobody answers on the control address.
inline constexpr int kExitServerFailed = 70;    // A server failed to start (crash, exec failure).
inline constexpr int kExitServerCrashed = 71;   // A server died while CMD ran (and CMD itself succeeded).
inline constexpr int kExitTimeout = 75;         // Not ready / no answer within the timeout.
inline constexpr int kExitOther = 1;            // Any other failure (the message says what).
inline constexpr int kExitCannotRun = 126;      // CMD found but cannot be executed.
inline constexpr int kExitNoCommand = 127;      // CMD not found (or its #! interpreter is missing).

// Prints "fixturectl: <message>" to stderr and returns `code`, for
// `return Fail(...)` from a command.
inline int Fail(int code, absl::string_view message) {
  fprintf(stderr, "fixturectl: %s\n", std::string(message).c_str());
  return code;
}

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_EXIT_CODES_H_
