#!/usr/bin/env bash
# `fixturectl run` with a Python grpcio server (tests/python/kv_server_py, on
# //tools/python:fixture_server): the command finds it in its environment,
# moves real data through it (kv_cli) and reads its status; the server runs
# under /usr/bin/python3 and is gone, socket directory and all, when run ends.
# A Python server that raises before it is ready fails the run at once (70)
# with its traceback.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
fixturectl="$1"
kv_server_py="$2"
kv_cli="$3"

# The round trip, the status (label, counts, pid) and the interpreter, from CMD.
out=$("$fixturectl" run --server="$kv_server_py" --name=kv --arg=--label=from=shell -- bash -c '
  fixturectl="$1" kv_cli="$2"
  "$kv_cli" put greeting hello
  "$kv_cli" put greeting hello
  echo "get=$("$kv_cli" get greeting)"
  "$kv_cli" get missing 2>&1 | sed "s/^/missing: /"
  "$fixturectl" status --control="$FIXTURE_KV_CONTROL" --json | tr -d " \n" | sed "s/^/json=/"; echo
  echo "pid=$FIXTURE_KV_PID exe=$(readlink "/proc/$FIXTURE_KV_PID/exe") control=$FIXTURE_KV_CONTROL"
' _ "$fixturectl" "$kv_cli")
status=$?
echo "$out"
[ "$status" -eq 0 ] || fail "run exited $status"
grep -qx "created" <<<"$out" || fail "first put"
grep -qx "replaced" <<<"$out" || fail "second put"
grep -qx "get=hello" <<<"$out" || fail "get"
grep -q "^missing: kv_cli: get: NOT_FOUND" <<<"$out" || fail "get of a missing key"
json=$(grep "^json=" <<<"$out")
grep -q '"state":"SERVING"' <<<"$json" || fail "state in status"
grep -q '"from":"shell"' <<<"$json" || fail "label in status"
grep -q '"method":"/fixture.example.v1.KeyValue/Put","calls":"2"' <<<"$json" || fail "Put counted twice"
grep -q '"method":"/fixture.example.v1.KeyValue/Get","calls":"2"' <<<"$json" || fail "Get counted twice"
read -r pid_field exe_field control_field <<<"$(grep "^pid=" <<<"$out")"
pid="${pid_field#pid=}"
[ "${exe_field#exe=}" = "$(readlink -f /usr/bin/python3)" ] || fail "server runs ${exe_field#exe=}, not /usr/bin/python3"
grep -q "\"pid\":\"$pid\"" <<<"$json" || fail "status pid is not FIXTURE_KV_PID $pid"
wait_gone 5 "$pid" >/dev/null || fail "server $pid still runs after run ended"
socket="${control_field#control=unix:}"
[ ! -e "$(dirname "$socket")" ] || fail "socket directory $(dirname "$socket") left behind"
pass "round trip, status and cleanup"

# fixturectl killed by SIGKILL: the server gets its parent-death signal
# (SIGTERM), stops gracefully and removes its socket directory itself.
open_events started
"$fixturectl" run --server="$kv_server_py" --name=kv -- bash -c '
  echo "$FIXTURE_KV_PID $FIXTURE_KV_CONTROL" >"$1"
  exec sleep 300' _ "$started" 2>"$TEST_TMPDIR/killed.stderr" &
fx=$!
if read_event "$started_fd" 20 server_pid control; then
  kill -KILL "$fx"
  wait "$fx"
  if left=$(wait_gone 10 "$server_pid"); then
    socket="${control#unix:}"
    [ ! -e "$(dirname "$socket")" ] || fail "parent death: socket directory $(dirname "$socket") left behind"
    # Its own graceful stop (fixturectl keeps server logs in the outputs dir).
    grep -q "\[$server_pid\]: SIGTERM received: stopping" "$TEST_UNDECLARED_OUTPUTS_DIR"/kv*.stderr.log ||
      fail "parent death: the server did not log its SIGTERM"
    pass "fixturectl killed by SIGKILL: the Python server is gone"
  else
    fail "fixturectl killed by SIGKILL: server $left still runs 10 s later"
    kill -KILL "$left"
  fi
else
  fail "parent death: CMD did not start"
  kill -KILL "$fx"
  wait "$fx"
fi

# Raising before ready: the run fails at once with the server's traceback.
err=$("$fixturectl" run --server="$kv_server_py" --name=kv --ready_timeout=10m \
  --arg=--test_raise_before_ready -- true 2>&1 >/dev/null)
status=$?
echo "$err"
[ "$status" -eq 70 ] || fail "raise before ready: run exited $status, want 70"
grep -q "exited with status 1 before it was ready" <<<"$err" || fail "raise before ready: no exit status"
grep -q "RuntimeError: kv_server_py: raising before ready" <<<"$err" || fail "raise before ready: no traceback"
pass "raise before ready"

finish
