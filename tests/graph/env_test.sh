#!/usr/bin/env bash
# A fixture_env as `bazel run` runs it: the graph comes up, each server's
# control socket, pid and endpoints are printed, and SIGTERM stops them all,
# each before its deps, exit 0. With `-- --port=a.http=PORT`, server a's port is
# the one asked for; a --port naming no server is exit 64.
set -u
env_binary="$1"
events="$TEST_TMPDIR/events"
: >"$events"
out="$TEST_TMPDIR/env.out"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# A port nobody listens on (the kernel's pick for a socket closed at once).
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$env_binary" --port="a.http=$port" >"$out" 2>&1 &
env_pid=$!
for _ in $(seq 3000); do grep -q "^fixture_env: up" "$out" && break; sleep 0.01; done
if grep -q "^fixture_env: up" "$out"; then
  pass "up: $(tr '\n' '|' <"$out")"
else
  fail "never up: $(cat "$out")"
fi
grep -qE "^fixture_env: a +control unix:/.*/control.sock  pid [0-9]+$" "$out" || fail "no control line for a"
grep -qE "^fixture_env: a +http +127\.0\.0\.1:$port$" "$out" || fail "no http endpoint line for a on port $port"
grep -qE "^fixture_env: c +control " "$out" || fail "no line for c"
kill -TERM "$env_pid"
wait "$env_pid"
status=$?
stops=$(grep "^stop " "$events" | tr '\n' ' ')
# c before its deps a and b (which came up at once: either may stop first).
if [ "$status" -eq 0 ] && { [ "$stops" = "stop c stop b stop a " ] || [ "$stops" = "stop c stop a stop b " ]; }; then
  pass "SIGTERM: exit 0, $stops"
else
  fail "SIGTERM: status $status, stops \"$stops\"; output: $(cat "$out")"
fi
"$env_binary" --port=zz.http=1 >"$out" 2>&1
status=$?
if [ "$status" -eq 64 ] && grep -q 'no server "zz" (the servers: a, b, migrate, c)' "$out"; then
  pass "unknown server: exit 64"
else
  fail "unknown server: status $status, output: $(cat "$out")"
fi
if ((failures > 0)); then exit 1; fi
echo PASS
