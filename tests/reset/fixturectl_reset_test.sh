#!/usr/bin/env bash
# fixturectl reset against real servers started by `fixturectl run`: a
# kv_server (its reset hook empties the store) with real KeyValue calls
# (kv_cli) around it, and an attached server (server/attach.h), which has no
# hook: the output, the counts and faults after, and each exit status.
set -uo pipefail
fixturectl="$1"
kv_server="$2"
attached_server="$3"
kv_cli="$4"
source "$(dirname "$0")/../shell/lib.sh"

if [ "${5:-}" != "inner" ]; then
  # Runs the checks below as CMD of `fixturectl run`, which exits with their status.
  "$fixturectl" run --server="$kv_server" --name=kv --server="$attached_server" --name=attached -- \
    "$0" "$fixturectl" "$kv_server" "$attached_server" "$kv_cli" inner
  exit $?
fi

ctl=(--control="$FIXTURE_KV_CONTROL")
put=/fixture.example.v1.KeyValue/Put

expect 0 "created" -- "$kv_cli" put a 1
expect 0 "^1$" -- "$kv_cli" get a
expect 0 "^fault 1$" -- "$fixturectl" fault "${ctl[@]}" --method=$put --code=UNAVAILABLE --count=1
expect 0 "^reset: 1 faults cleared$" -- "$fixturectl" reset "${ctl[@]}"
expect 0 "^$" -- "$fixturectl" faults "${ctl[@]}"
expect 1 "NOT_FOUND" -- "$kv_cli" get a
expect 0 '"method": "/fixture.example.v1.KeyValue/Get"' -- "$fixturectl" status "${ctl[@]}" --json
if "$fixturectl" status "${ctl[@]}" --json | grep -q "KeyValue/Put"; then
  fail "after reset, Status.method_calls still counts a Put"
else
  pass "after reset, only the Get since is counted"
fi
expect 0 "created" -- "$kv_cli" put a 2
expect 0 "^reset: 0 faults cleared$" -- "$fixturectl" reset "${ctl[@]}"

# No hook: 1 with what to do; nothing else is cleared. No server: 69.
expect 0 "^fault 1$" -- "$fixturectl" fault --control="$FIXTURE_ATTACHED_CONTROL" --method=$put --code=UNAVAILABLE
expect 1 "Reset on .* failed: .*no reset hook.*register one with ServerSetup::OnReset" -- \
  "$fixturectl" reset --control="$FIXTURE_ATTACHED_CONTROL"
expect 0 "^1 $put code=UNAVAILABLE hits=0$" -- "$fixturectl" faults --control="$FIXTURE_ATTACHED_CONTROL"
expect 69 "nobody listens on unix:$TEST_TMPDIR/none.sock" -- "$fixturectl" reset --control="unix:$TEST_TMPDIR/none.sock"
expect 64 "--control" -- "$fixturectl" reset
expect 0 "state: SERVING" -- "$fixturectl" status "${ctl[@]}"
finish
