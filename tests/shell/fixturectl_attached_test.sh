#!/usr/bin/env bash
# `fixturectl run` with a server that has its own main() and ServerBuilder
# (example/attached_server, attached by server/attach.h): ready with its
# port in the environment, status and shutdown through its control socket,
# and a clean stop when CMD ends.
set -euo pipefail
fixturectl="$1"
attached_server="$2"
source "$(dirname "$0")/lib.sh"

out=$("$fixturectl" run --server="$attached_server" --name=kv -- sh -c '
  case "$FIXTURE_KV_GRPC" in 127.0.0.1:[1-9]*) echo "grpc=ok";; *) echo "grpc=$FIXTURE_KV_GRPC";; esac
  "$0" status --control="$FIXTURE_KV_CONTROL" | grep -E "^(state|pid):"
  echo "pid=$FIXTURE_KV_PID"
' "$fixturectl")
echo "$out"
grep -qx "grpc=ok" <<<"$out" && pass "FIXTURE_KV_GRPC is 127.0.0.1:PORT" || fail "FIXTURE_KV_GRPC: $out"
grep -qx "state: SERVING" <<<"$out" && pass "status SERVING" || fail "status: $out"
pid=$(sed -n 's/^pid=//p' <<<"$out")
grep -qx "pid: $pid" <<<"$out" && pass "status pid is FIXTURE_KV_PID" || fail "status pid: $out"

# A control Shutdown from CMD stops the server (its Wait() returns); run
# still exits 0.
if "$fixturectl" run --server="$attached_server" --name=kv -- \
  sh -c '"$0" shutdown --control="$FIXTURE_KV_CONTROL" --grace=50ms | grep -E "^pid [0-9]+ stopped$"' "$fixturectl"; then
  pass "shutdown from CMD"
else
  fail "shutdown from CMD"
fi

# CMD's exit status is fixturectl's, and the server was stopped for it.
set +e
"$fixturectl" run --server="$attached_server" -- sh -c 'exit 7'
status=$?
set -e
[ "$status" -eq 7 ] && pass "exit status of CMD" || fail "exit status $status, want 7"
finish
