#!/usr/bin/env bash
# fixturectl fault, faults, clear-faults and drop-connections against a real kv_server started
# by `fixturectl run`, with real KeyValue calls (kv_cli) in between: the
# output, the hit counts, and the exit status of each bad input.
set -uo pipefail
fixturectl="$1"
kv_server="$2"
kv_cli="$3"
source "$(dirname "$0")/../shell/lib.sh"

if [ "${4:-}" != "inner" ]; then
  # Runs the checks below as CMD of `fixturectl run`, which exits with their status.
  "$fixturectl" run --server="$kv_server" --name=kv -- "$0" "$fixturectl" "$kv_server" "$kv_cli" inner
  exit $?
fi

ctl=(--control="$FIXTURE_KV_CONTROL")
put=/fixture.example.v1.KeyValue/Put

expect 0 "^fault 1$" -- "$fixturectl" fault "${ctl[@]}" --method=$put --code=UNAVAILABLE --message=injected --count=2
expect 1 "UNAVAILABLE.*injected" -- "$kv_cli" put a 1
expect 1 "UNAVAILABLE.*injected" -- "$kv_cli" put a 1
expect 0 "created" -- "$kv_cli" put a 1
expect 0 "^1 $put code=UNAVAILABLE message=\"injected\" count=2 hits=2$" -- "$fixturectl" faults "${ctl[@]}"
expect 0 '"hits": "2"' -- "$fixturectl" status "${ctl[@]}" --json

expect 0 "^fault 2$" -- "$fixturectl" fault "${ctl[@]}" --method='/fixture.example.v1.KeyValue/*' --code=aborted \
  --rate=0.5 --seed=7 --delay=1ms
expect 0 "^2 /fixture.example.v1.KeyValue/\* code=ABORTED delay=1ms rate=0.5 seed=7 hits=0$" -- \
  "$fixturectl" faults "${ctl[@]}"
expect 0 "^cleared 1$" -- "$fixturectl" clear-faults "${ctl[@]}" --id=2
expect 0 "^fault 3$" -- "$fixturectl" fault "${ctl[@]}" --method=$put --code=14 --metadata=X-Test=yes
expect 0 "replaced" -- "$kv_cli" put a 2
expect 0 "^cleared 2$" -- "$fixturectl" clear-faults "${ctl[@]}"
expect 0 "^$" -- "$fixturectl" faults "${ctl[@]}"

# drop-connections: an hour's refusal fails every call; clear-faults ends it.
expect 0 "^closed [0-9]+$" -- "$fixturectl" drop-connections "${ctl[@]}" --refuse_for=1h
expect 0 "refusing_connections_until" -- "$fixturectl" status "${ctl[@]}" --json
expect 1 "UNAVAILABLE" -- "$kv_cli" put a 4
expect 0 "^cleared 0$" -- "$fixturectl" clear-faults "${ctl[@]}"
expect 0 "replaced" -- "$kv_cli" put a 4
expect 64 "refuse_for" -- "$fixturectl" drop-connections "${ctl[@]}" --refuse_for=-1s

# Bad input: 64 with the field named, 67 for an unknown id; the server stays up.
expect 64 "fault.method: \"/no.Such/Method\" matches no method" -- \
  "$fixturectl" fault "${ctl[@]}" --method=/no.Such/Method --code=UNAVAILABLE
expect 64 "fault.rate: 1.5 is not a probability" -- "$fixturectl" fault "${ctl[@]}" --method=$put --code=UNAVAILABLE --rate=1.5
expect 64 "fault.delay" -- "$fixturectl" fault "${ctl[@]}" --method=$put --delay=-5ms
expect 64 "--code=SOMETIMES: not a failure status code" -- "$fixturectl" fault "${ctl[@]}" --method=$put --code=SOMETIMES
expect 64 "--method=/package.Service/Method is required" -- "$fixturectl" fault "${ctl[@]}" --code=UNAVAILABLE
expect 64 "--rate and --count" -- "$fixturectl" fault "${ctl[@]}" --method=$put --code=UNAVAILABLE --rate=1 --count=1
expect 67 "there is no fault 99 .*fixturectl faults lists them" -- "$fixturectl" clear-faults "${ctl[@]}" --id=99
expect 0 "state: SERVING" -- "$fixturectl" status "${ctl[@]}"
expect 0 "replaced" -- "$kv_cli" put a 3
finish
