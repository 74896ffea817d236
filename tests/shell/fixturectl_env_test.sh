#!/usr/bin/env bash
# CMD's environment: every variable fixturectl does not own passes through
# (FIXTURE_* ones included, e.g. FIXTURE_FORK_SERVER_REEXEC); what it owns,
# or an enclosing run set, does not. And an endpoint whose variable would be
# one of fixturectl's own (FIXTURE_<NAME>_CONTROL, _PID) fails the start.
set -uo pipefail
fixturectl="$1"
kv_server="$2"
source "$(dirname "$0")/lib.sh"
tag="env-test-$$-$RANDOM"

# An enclosing run's variables (server "outer" with endpoint grpc), the
# launch protocol's, a stale one of this run's server "kv", and variables
# fixturectl does not own.
out=$(env FIXTURE_SERVERS="outer other-one" FIXTURE_CONTROL=unix:/outer.sock \
  FIXTURE_OUTER_CONTROL=unix:/outer.sock FIXTURE_OUTER_PID=1 FIXTURE_OUTER_GRPC=127.0.0.1:1 \
  FIXTURE_OTHER_ONE_PID=2 FIXTURE_KV_STALE=3 \
  FIXTURE_CONTROL_ADDRESS=unix:/x.sock FIXTURE_READY_FD=3 FIXTURE_NAME=outer \
  FIXTURE_FORK_SERVER_REEXEC=0 FIXTURE_USER_SETTING=kept FIXTUREX=kept MY_VAR=kept \
  "$fixturectl" run --server="$kv_server" --name=kv --arg=--label=tag=$tag -- \
  bash -c 'env | grep -E "^(FIXTURE|MY_VAR)" | sed "s/=.*//" | LC_ALL=C sort | tr "\n" " "')
want="FIXTUREX FIXTURE_CONTROL FIXTURE_FORK_SERVER_REEXEC FIXTURE_KV_CONTROL FIXTURE_KV_GRPC FIXTURE_KV_PID FIXTURE_SERVERS FIXTURE_SUPERVISOR FIXTURE_USER_SETTING MY_VAR "
[ "$out" = "$want" ] && pass "CMD's variables: $out" || fail "CMD's variables: got \"$out\", want \"$want\""

# The values: the inherited ones as they were, ours fresh.
out=$(env FIXTURE_SERVERS=outer FIXTURE_CONTROL=unix:/outer.sock FIXTURE_FORK_SERVER_REEXEC=0 \
  "$fixturectl" run --server="$kv_server" --name=kv --arg=--label=tag=$tag -- \
  bash -c 'echo "$FIXTURE_SERVERS|$FIXTURE_FORK_SERVER_REEXEC|$([ "$FIXTURE_CONTROL" = "$FIXTURE_KV_CONTROL" ] && echo same)"')
[ "$out" = "kv|0|same" ] && pass "values: $out" || fail "values: got \"$out\", want \"kv|0|same\""

# Bazel's TEST_TIMEOUT: CMD gets what is left after the start (whole
# seconds, rounded against the test); without one, none.
out=$(env TEST_TIMEOUT=100 "$fixturectl" run --server="$kv_server" --arg=--label=tag=$tag -- bash -c 'echo "$TEST_TIMEOUT"')
if [[ "$out" =~ ^[0-9]+$ ]] && ((out >= 1 && out < 100)); then
  pass "TEST_TIMEOUT=100 becomes $out for CMD"
else
  fail "TEST_TIMEOUT=100 became \"$out\" for CMD"
fi
out=$(env -u TEST_TIMEOUT "$fixturectl" run --server="$kv_server" --arg=--label=tag=$tag -- bash -c 'echo "${TEST_TIMEOUT-unset}"')
[ "$out" = "unset" ] && pass "no TEST_TIMEOUT, none for CMD" || fail "without TEST_TIMEOUT, CMD got \"$out\""

# FIXTURE_<NAME>_ATTACH: a running server instead of a started one. The
# inner run attaches to the outer run's kv by its control socket: CMD sees
# the outer kv's pid and address, and kv still runs after the inner run.
out=$("$fixturectl" run --server="$kv_server" --name=kv --arg=--label=tag=$tag -- bash -c '
  inner=$(FIXTURE_KV_ATTACH="$FIXTURE_KV_CONTROL" "$0" run --server="$1" --name=kv -- \
    bash -c "echo \$FIXTURE_SERVERS \$FIXTURE_KV_PID \$FIXTURE_KV_GRPC \$FIXTURE_KV_CONTROL")
  echo "$inner|$FIXTURE_KV_PID $FIXTURE_KV_GRPC $FIXTURE_KV_CONTROL|$(kill -0 "$FIXTURE_KV_PID" && echo alive)"' \
  "$fixturectl" "$kv_server")
IFS='|' read -r inner outer alive <<<"$out"
if [ "$inner" = "kv $outer" ] && [ "$alive" = alive ]; then
  pass "attached by control socket: CMD saw \"$inner\", and kv was left running"
else
  fail "attached by control socket: got \"$out\""
fi
# By endpoint addresses: no control, no pid; nothing started.
out=$(env FIXTURE_WEB_ATTACH=http=127.0.0.1:1,admin=127.0.0.1:2 "$fixturectl" run --server="$kv_server" --name=web \
  --arg=--label=tag=$tag-attached -- bash -c 'env | grep "^FIXTURE_WEB_" | LC_ALL=C sort | tr "\n" " "')
if [ "$out" = "FIXTURE_WEB_ADMIN=127.0.0.1:2 FIXTURE_WEB_HTTP=127.0.0.1:1 " ] && ! pgrep -f -- "$tag-attached" >/dev/null; then
  pass "attached by endpoints: $out"
else
  fail "attached by endpoints: got \"$out\""
fi
out=$(env FIXTURE_KV_ATTACH=unix:/nonexistent/control.sock "$fixturectl" run --server="$kv_server" --name=kv \
  --ready_timeout=300ms -- true 2>&1)
status=$?
if [ "$status" -eq 69 ] && grep -q "FIXTURE_KV_ATTACH=unix:/nonexistent/control.sock: GetStatus of the server to attach to failed" <<<"$out"; then
  pass "nobody at the attach address: 69, $out"
else
  fail "nobody at the attach address: status $status, output: $out"
fi

# A run inside a run: the inner CMD sees the inner servers only, and the
# outer run's user variables.
out=$(env FIXTURE_FORK_SERVER_REEXEC=0 "$fixturectl" run --server="$kv_server" --name=outer --arg=--label=tag=$tag -- \
  "$fixturectl" run --server="$kv_server" --name=inner --arg=--label=tag=$tag -- \
  bash -c 'env | grep "^FIXTURE" | sed "s/=.*//" | LC_ALL=C sort | tr "\n" " "')
want="FIXTURE_CONTROL FIXTURE_FORK_SERVER_REEXEC FIXTURE_INNER_CONTROL FIXTURE_INNER_GRPC FIXTURE_INNER_PID FIXTURE_SERVERS FIXTURE_SUPERVISOR "
[ "$out" = "$want" ] && pass "nested run: $out" || fail "nested run: got \"$out\", want \"$want\""

# A server (not built on server/, which refuses such names at setup) that
# reports an endpoint "control", or "Pid": the start fails with 70, naming it;
# CMD does not run; the server is stopped.
fake="$TEST_TMPDIR/fake_server.py"
cat >"$fake" <<'EOF'
#!/usr/bin/python3
"""Follows the launch protocol (proto/launch.proto) by hand: listens on the
control socket, then reports ready with the endpoint named in argv[1]. Exits
0 on SIGINT/SIGTERM, or when a second connection comes (a Shutdown call)."""
import os, signal, socket, struct, sys

def field(number, data):  # A length-delimited protobuf field.
    return bytes([number << 3 | 2, len(data)]) + data

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
control.bind(os.environ["FIXTURE_CONTROL_ADDRESS"][len("unix:"):])
control.listen(8)
endpoint = field(1, sys.argv[1].encode()) + field(2, b"127.0.0.1:1")
notice = field(2, endpoint)
os.write(int(os.environ["FIXTURE_READY_FD"]), b"R" + struct.pack("<I", len(notice)) + notice)
print("fake_server: reported endpoint %s" % sys.argv[1], file=sys.stderr, flush=True)
control.accept()  # The parent's check that the socket accepts.
control.accept()  # Its Shutdown call.
EOF
chmod +x "$fake"
marker="$TEST_TMPDIR/cmd-ran"
for endpoint in control Pid; do
  key=$(tr a-z A-Z <<<"$endpoint")
  out=$("$fixturectl" run --server="$fake" --name=fake --arg="$endpoint" --arg=--label=tag=$tag -- touch "$marker" 2>&1)
  status=$?
  if [ "$status" -ne 70 ] || ! grep -qF "server \"fake\" reports an endpoint \"$endpoint\", whose variable FIXTURE_FAKE_$key is fixturectl's own" <<<"$out"; then
    fail "endpoint \"$endpoint\": status $status, output: $out"
  elif [ -e "$marker" ]; then
    fail "endpoint \"$endpoint\": CMD ran"
  else
    pass "endpoint \"$endpoint\": status 70, $(head -1 <<<"$out")"
  fi
done

if pgrep -f -- "$tag" >/dev/null; then
  fail "processes left running: $(pgrep -af -- "$tag")"
fi
finish
