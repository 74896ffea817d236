// A test process that dies with fixtures running, for checking by hand what a
// killed test leaves on disk under `bazel test` (tests/sandbox/killed_under_bazel.sh
// runs it in every way and counts /tmp/fixture-* on the host).
//
// It starts one fixture in each launch mode (kv_server exec'ed, and a
// FIXTURE_SERVER forked by the fork server), prints each socket directory as
// "socket_dir=PATH" and then, as FIXTURE_KILLED_HOW says: "abort" calls
// abort(), "sigkill" and "sigterm" raise that signal, "hang" waits to be
// killed by --test_timeout, and "teardown" SIGKILLs its servers and then
// itself, as the end of a sandbox's PID namespace does to a server still
// stopping (and as a server that is not built on server/ leaves the
// directory: only the parent removes it). Tagged manual: it fails on purpose.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "fixture/example/kv_service.h"
#include "fixture/fixture.h"
#include "fixture/launch/socket_path.h"
#include "fixture/server/registry.h"
#include "fixture/testing.h"
#include "gtest/gtest.h"

FIXTURE_SERVER(KilledTestKv, setup, args) {
  static fixture::example::KeyValueService kv;
  return setup.AddService(&kv);
}

namespace {

TEST(KilledTest, DiesWithItsFixturesRunning) {
  ASSERT_OK_AND_ASSIGN(fixture::Fixture exec,
                       fixture::Fixture::Start({.name = "exec", .program = fixture::Binary{"example/kv_server"}}));
  ASSERT_OK_AND_ASSIGN(fixture::Fixture inproc,
                       fixture::Fixture::Start({.name = "inproc", .program = fixture::Registered{"KilledTestKv"}}));
  for (const fixture::Fixture* f : {&exec, &inproc}) {
    std::string socket = fixture::UnixSocketPath(f->control_address());
    printf("socket_dir=%s\n", socket.substr(0, socket.rfind('/')).c_str());
  }
  const char* test_tmpdir = getenv("TEST_TMPDIR");
  printf("test_tmpdir=%s\n", test_tmpdir == nullptr ? "" : test_tmpdir);
  fflush(stdout);
  const char* how = getenv("FIXTURE_KILLED_HOW");
  const std::string way = how == nullptr ? "abort" : how;
  if (way == "abort") abort();
  if (way == "sigkill") raise(SIGKILL);
  if (way == "sigterm") raise(SIGTERM);
  if (way == "teardown") {
    kill(exec.pid(), SIGKILL);
    kill(inproc.pid(), SIGKILL);
    raise(SIGKILL);
  }
  for (;;) pause();  // "hang": until --test_timeout.
}

}  // namespace
