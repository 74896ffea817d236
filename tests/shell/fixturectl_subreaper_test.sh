#!/usr/bin/env bash
# fixturectl is a child subreaper: what a server or CMD leaves behind is
# reparented to it, and ended and reaped before it exits. The server is a
# wrapper script that does not exec: kv_server in the background, a
# `sleep 300 &` sidecar, and a daemon that left the group (setsid). CMD
# leaves a background sleep, a setsid'd one, and a setsid'd one that ignores
# SIGTERM. Right after fixturectl exits, none of them runs (kill -0 by pid).
set -uo pipefail
fixturectl="$1"
kv_server="$(realpath "$2")"
source "$(dirname "$0")/lib.sh"
tag="subreaper-test-$$-$RANDOM"
export KV_SERVER="$kv_server"
pids="$TEST_TMPDIR/pids"
export PIDS="$pids"
stderr="$TEST_TMPDIR/stderr"

wrapper="$TEST_TMPDIR/wrapper.sh"
cat >"$wrapper" <<'EOF'
#!/bin/bash
sleep 300 &
echo "server-sidecar $!" >>"$PIDS"
setsid sleep 300 &
echo "server-daemon $!" >>"$PIDS"
"$KV_SERVER" "$@" &
echo "server $!" >>"$PIDS"
echo "wrapper $$" >>"$PIDS"
wait $!
EOF
chmod +x "$wrapper"

check_gone() {
  local what="$1" name pid left=""
  while read -r name pid; do
    kill -0 "$pid" 2>/dev/null && left="$left $name=$pid"
  done <"$pids"
  [ -z "$left" ] && pass "$what: nothing left running ($(tr '\n' ' ' <"$pids"))" ||
    fail "$what: still running after fixturectl exited:$left"
}

rm -f "$pids"
"$fixturectl" run --kill_after=300ms --server="$wrapper" --name=kv --arg=--label=tag=$tag -- bash -c '
  set -e
  # The server runs, and FIXTURE_KV_PID is kv_server'"'"'s own pid (not the wrapper'"'"'s).
  [ "$("$0" status --control="$FIXTURE_KV_CONTROL" | sed -n "s/^pid: //p")" = "$FIXTURE_KV_PID" ]
  grep -qx "server $FIXTURE_KV_PID" "$PIDS"
  sleep 300 &
  echo "cmd-child $!" >>"$PIDS"
  # Each daemon says "up" once it has left the group (else the kill of what
  # is left of CMD'"'"'s group when CMD exits could end it first); it may still be
  # bash then, not yet sleep.
  read -r _ < <(setsid bash -c "echo \"cmd-daemon \$\$\" >>\"\$PIDS\"; echo up; exec sleep 300 >/dev/null")
  read -r _ < <(setsid bash -c "trap \"\" TERM; echo \"cmd-stubborn-daemon \$\$\" >>\"\$PIDS\"; echo up; exec sleep 300 >/dev/null")' "$fixturectl" 2>"$stderr"
status=$?
check_gone "wrapper server and CMD's leftovers"
pid_of() { sed -n "s/^$1 //p" "$pids"; }
if [ "$status" -ne 0 ]; then
  fail "status $status, want 0; stderr: $(cat "$stderr")"
elif ! grep -qE "fixturectl: ended [0-9]+ process(es)? left behind: " "$stderr" ||
  ! grep -qE "$(pid_of server-daemon) \(sleep\) killed by signal 15 \(SIGTERM\)" "$stderr" ||
  ! grep -qE "$(pid_of cmd-daemon) \((bash|sleep)\) killed by signal 15 \(SIGTERM\)" "$stderr" ||
  ! grep -qE "$(pid_of cmd-stubborn-daemon) \((bash|sleep)\) killed by signal 9 \(SIGKILL\)" "$stderr"; then
  fail "stderr does not list the daemons left behind (SIGTERM; SIGKILL for the one ignoring it): $(cat "$stderr")"
else
  pass "status 0; $(grep "left behind" "$stderr")"
fi
[ "$(wc -l <"$pids")" -eq 7 ] || fail "expected 7 pids, got: $(cat "$pids")"

# A server whose start fails leaves a daemon: ended too.
rm -f "$pids"
crasher="$TEST_TMPDIR/crasher.sh"
cat >"$crasher" <<'EOF'
#!/bin/bash
setsid sleep 300 &
echo "daemon $!" >>"$PIDS"
exec "$KV_SERVER" --test_crash_before_ready "$@"
EOF
chmod +x "$crasher"
"$fixturectl" run --server="$crasher" --arg=--label=tag=$tag -- true 2>"$stderr"
status=$?
[ "$status" -eq 70 ] || fail "failed start: status $status, want 70"
check_gone "failed start's daemon"

if pgrep -f -- "$tag" >/dev/null; then
  fail "processes left running: $(pgrep -af -- "$tag")"
fi
finish
