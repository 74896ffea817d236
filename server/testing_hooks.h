// Hooks for tests of the parent's fallbacks: ways to make a server misbehave
// that no real server should use. Not part of the public API (visibility:
// this project's example server and tests).
//
//   if (absl::GetFlag(FLAGS_test_stall_control)) fixture::server::testing_hooks::StallControl(setup);
#ifndef FIXTURE_SERVER_TESTING_HOOKS_H_
#define FIXTURE_SERVER_TESTING_HOOKS_H_

#include "fixture/server/setup.h"

namespace fixture::server::testing_hooks {

// The control service stops answering: every call blocks until the server is
// stopping, so the parent must fall back to signals.
void StallControl(ServerSetup& setup);

}  // namespace fixture::server::testing_hooks

#endif  // FIXTURE_SERVER_TESTING_HOOKS_H_
