#!/usr/bin/env bash
# fixturectl with servers no one here wrote: Debian's redis-server ready by
# sd_notify on a reserved port, Python's http.server ready by http; CMD talks
# to them with their own clients, reads the parent-served control socket,
# and fixturectl stops them by their stop signal. And a server that never
# gets ready fails the start with 75 naming the strategy.
set -uo pipefail
fixturectl="$1"
source "$(dirname "$0")/lib.sh"

# redis: sd_notify, {port:NAME}; CMD sees FIXTURE_REDIS_REDIS=127.0.0.1:PORT.
out=$("$fixturectl" run --server=/usr/bin/redis-server --name=redis --ready=sd_notify --port=redis \
  --arg=--port --arg='{port:redis}' --arg=--supervised --arg=systemd --arg=--save --arg= \
  -- bash -c 'redis-cli -u "redis://$FIXTURE_REDIS_REDIS" set k v >/dev/null &&
               redis-cli -u "redis://$FIXTURE_REDIS_REDIS" get k &&
               "$0" status --control="$FIXTURE_REDIS_CONTROL" | grep -E -A1 "readiness|state"' "$fixturectl" 2>&1)
status=$?
[ "$status" -eq 0 ] && pass "redis by sd_notify: exit 0" || fail "redis by sd_notify: exit $status: $out"
grep -qx "v" <<<"$out" && pass "redis GET from CMD" || fail "no GET reply in: $out"
grep -q "sd_notify" <<<"$out" && pass "status names the readiness" || fail "no readiness label in: $out"
grep -q "SERVING" <<<"$out" && pass "status says SERVING" || fail "no SERVING in: $out"

# http.server: ready by http on its reserved port; a GET from CMD.
out=$("$fixturectl" run --server=/usr/bin/python3 --name=web --ready=http:web/ --port=web \
  --arg=-m --arg=http.server --arg=--bind --arg=127.0.0.1 --arg='{port:web}' \
  -- /usr/bin/python3 -c 'import os, urllib.request
print(urllib.request.urlopen("http://" + os.environ["FIXTURE_WEB_WEB"] + "/").status)' 2>&1)
status=$?
[ "$status" -eq 0 ] && grep -qx 200 <<<"$out" && pass "http.server by http: GET 200" \
  || fail "http.server by http: exit $status: $out"

# Never ready: a log line that never comes; exit 75 naming the strategy.
out=$("$fixturectl" run --server=/bin/sh --name=slow --ready='log:^ready$' --ready_timeout=1s \
  --arg=-c --arg='echo loading; exec sleep 60' -- true 2>&1)
status=$?
[ "$status" -eq 75 ] && pass "never ready: exit 75" || fail "never ready: exit $status: $out"
grep -q "was not ready by log readiness" <<<"$out" && grep -q "loading" <<<"$out" \
  && pass "never ready: names log and what it last saw" || fail "never ready message: $out"

# A bad --ready is bad usage (64), before anything runs.
out=$("$fixturectl" run --server=/bin/true --ready=carrier-pigeon -- true 2>&1)
status=$?
[ "$status" -eq 64 ] && grep -q "carrier-pigeon" <<<"$out" && pass "bad --ready: exit 64" \
  || fail "bad --ready: exit $status: $out"

finish
