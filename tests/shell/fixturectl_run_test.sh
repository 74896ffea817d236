#!/usr/bin/env bash
# `fixturectl run` as a user would use it from a shell: start kv_server, find
# it through the environment, drive it with `fixturectl status/shutdown`, and
# get CMD's exit status back.
set -euo pipefail
fixturectl="$1"
kv_server="$2"
fail() { echo "FAIL: $*" >&2; exit 1; }

# CMD sees the servers' addresses and the control commands work on them.
out=$("$fixturectl" run --server="$kv_server" --name=kv --arg=--label=from=shell -- bash -c '
  set -e
  echo "servers=$FIXTURE_SERVERS"
  [ "$FIXTURE_CONTROL" = "$FIXTURE_KV_CONTROL" ]
  case "$FIXTURE_KV_GRPC" in 127.0.0.1:[1-9]*) echo "grpc=ok";; *) echo "grpc=$FIXTURE_KV_GRPC";; esac
  "$0" status --control="$FIXTURE_KV_CONTROL" | grep -E "^(state|pid):"
  "$0" wait-ready --control="$FIXTURE_KV_CONTROL" --timeout=2s
  "$0" status --control="$FIXTURE_KV_CONTROL" --json | grep -c "\"from\": \"shell\""
' "$fixturectl")
echo "$out"
grep -qx "servers=kv" <<<"$out" || fail "FIXTURE_SERVERS"
grep -qx "grpc=ok" <<<"$out" || fail "FIXTURE_KV_GRPC"
grep -qx "state: SERVING" <<<"$out" || fail "status state"
grep -qE "^ready: pid [0-9]+$" <<<"$out" || fail "wait-ready"
grep -qx "1" <<<"$out" || fail "status --json label"

# --port=NAME=PORT: kv_server's port-0 endpoint on the port asked for.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$("$fixturectl" run --server="$kv_server" --name=kv --port="grpc=$port" -- bash -c 'echo "$FIXTURE_KV_GRPC"')
[ "$out" = "127.0.0.1:$port" ] || fail "--port=grpc=$port: FIXTURE_KV_GRPC=$out"

# CMD's exit status is fixturectl's.
set +e
"$fixturectl" run --server="$kv_server" -- bash -c 'exit 42'
status=$?
set -e
[ "$status" -eq 42 ] || fail "exit status $status, want 42"

# Two servers at once, named.
out=$("$fixturectl" run --server="$kv_server" --name=a --server="$kv_server" --name=b -- \
  bash -c 'echo "$FIXTURE_SERVERS $FIXTURE_A_PID $FIXTURE_B_PID"; [ "$FIXTURE_A_GRPC" != "$FIXTURE_B_GRPC" ]')
read -r names_a names_b pid_a pid_b <<<"$out"
[ "$names_a $names_b" = "a b" ] || fail "two servers: $out"
[ "$pid_a" != "$pid_b" ] || fail "two servers share a pid"

# shutdown from inside CMD stops the server; run still exits 0.
"$fixturectl" run --server="$kv_server" --name=kv -- \
  bash -c '"$0" shutdown --control="$FIXTURE_KV_CONTROL" --grace=50ms | grep -E "^pid [0-9]+ stopped$"' "$fixturectl"

# watch prints the states until the server stops. The shutdown waits for
# watch's first line (the current state), so watch sees every state after it.
out=$("$fixturectl" run --server="$kv_server" --name=kv -- bash -c '
  coproc WATCH { "$0" watch --control="$FIXTURE_KV_CONTROL"; }
  exec 3<&"${WATCH[0]}"
  read -r -t 10 _ first <&3
  "$0" shutdown --control="$FIXTURE_KV_CONTROL" >/dev/null
  echo "$first $(awk "{print \$2}" <&3 | tr "\n" " ")"' "$fixturectl")
[ "$out" = "SERVING DRAINING STOPPING " ] || fail "watch printed: $out"

# shutdown --drain: watch sees DRAINING at once, and the server still answers
# while it drains (for an hour, unless told otherwise); a second shutdown with
# --drain=0s ends the drain, the server stops, and the first shutdown says so.
out=$("$fixturectl" run --server="$kv_server" --name=kv -- bash -c '
  coproc WATCH { "$0" watch --control="$FIXTURE_KV_CONTROL"; }
  exec 3<&"${WATCH[0]}"
  read -r -t 10 _ first <&3
  "$0" shutdown --control="$FIXTURE_KV_CONTROL" --drain=1h --grace=50ms >"$TEST_TMPDIR/drained" &
  draining=$!
  read -r -t 10 _ second <&3
  echo "$first $second $("$0" status --control="$FIXTURE_KV_CONTROL" | grep -o "state: [A-Z]*")"
  "$0" shutdown --control="$FIXTURE_KV_CONTROL" --drain=0s >/dev/null
  wait $draining
  cat "$TEST_TMPDIR/drained"' "$fixturectl")
grep -qE "^SERVING DRAINING state: DRAINING$" <<<"$out" && grep -qE "^pid [0-9]+ stopped$" <<<"$out" ||
  fail "shutdown --drain: $out"
echo "PASS"
