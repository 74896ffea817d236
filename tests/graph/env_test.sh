#!/usr/bin/env bash
# A fixture_env as `bazel run` runs it: the graph comes up, each server's
# control socket, pid and endpoints are printed, and SIGTERM stops them all,
# in reverse order, exit 0.
set -u
env_binary="$1"
events="$TEST_TMPDIR/events"
: >"$events"
out="$TEST_TMPDIR/env.out"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

"$env_binary" >"$out" 2>&1 &
env_pid=$!
for _ in $(seq 3000); do grep -q "^fixture_env: up" "$out" && break; sleep 0.01; done
if grep -q "^fixture_env: up" "$out"; then
  pass "up: $(tr '\n' '|' <"$out")"
else
  fail "never up: $(cat "$out")"
fi
grep -qE "^fixture_env: a +control unix:/.*/control.sock  pid [0-9]+$" "$out" || fail "no control line for a"
grep -qE "^fixture_env: a +http +127\.0\.0\.1:[0-9]+$" "$out" || fail "no http endpoint line for a"
grep -qE "^fixture_env: c +control " "$out" || fail "no line for c"
kill -TERM "$env_pid"
wait "$env_pid"
status=$?
stops=$(grep "^stop " "$events" | tr '\n' ' ')
if [ "$status" -eq 0 ] && [ "$stops" = "stop c stop b stop a " ]; then
  pass "SIGTERM: exit 0, $stops"
else
  fail "SIGTERM: status $status, stops \"$stops\"; output: $(cat "$out")"
fi
if ((failures > 0)); then exit 1; fi
echo PASS
