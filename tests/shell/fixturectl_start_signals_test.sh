#!/usr/bin/env bash
# A stop signal during the servers' start aborts it at once: what was started
# is stopped, CMD never runs, fixturectl exits 128+N saying which signal came
# during which server's start. Also a start that fails ends the others' at
# once. Each server writes an event when its start is under way; the test
# signals fixturectl then, and times how long it takes to be gone.
set -uo pipefail
set -m  # Background jobs in groups of their own that do not ignore SIGINT, as in an interactive shell.
fixturectl="$1"
kv_server="$(realpath "$2")"
source "$(dirname "$0")/lib.sh"
tag="start-signals-test-$$-$RANDOM"
export KV_SERVER="$kv_server"
# Each abort must take well under this (the target is tens of milliseconds;
# the bound leaves room for a loaded machine, and is far below the 3 s start
# and the 60 s ready_timeout it replaces).
max_ms=1000

open_events started
export STARTED="$started"
# A server that takes 3 s to start: it says "<its pid> <its sleep's pid>",
# waits 3 s, then becomes kv_server.
slow="$TEST_TMPDIR/slow_server.sh"
cat >"$slow" <<'EOF'
#!/bin/bash
sleep 3 &
echo "$$ $!" >"$STARTED"
wait $!
exec "$KV_SERVER" "$@"
EOF
# A server that never becomes ready: it says its pid, then is kv_server
# --test_hang_before_ready.
hung="$TEST_TMPDIR/hung_server.sh"
cat >"$hung" <<'EOF'
#!/bin/bash
echo "$$" >"$STARTED"
exec "$KV_SERVER" --test_hang_before_ready "$@"
EOF
chmod +x "$slow" "$hung"
marker="$TEST_TMPDIR/cmd-ran"

# signal_during_start SIGNAL EXPECTED_NAMES -- fixturectl run ARGS...: starts
# fixturectl, waits for the event of a server under way, sends SIGNAL, and
# checks the exit status, the message, the time and that CMD did not run.
# Sets $pids to the pids the event named.
signal_during_start() {
  local sig="$1" names="$2"
  shift 3
  rm -f "$marker"
  "$fixturectl" "$@" -- touch "$marker" 2>"$TEST_TMPDIR/stderr" &
  local fx=$!
  if ! read_event "$started_fd" 10 pids; then
    fail "SIG$sig: no server start began"
    kill -KILL "$fx"
    wait "$fx"
    return
  fi
  local t0 status elapsed want=$((128 + $(kill -l "$sig")))
  t0=$(now_ms)
  kill -"$sig" "$fx"
  wait "$fx"
  status=$?
  elapsed=$(($(now_ms) - t0))
  local err
  err=$(cat "$TEST_TMPDIR/stderr")
  if [ "$status" -ne "$want" ]; then
    fail "SIG$sig during the start: status $status, want $want; stderr: $err"
  elif ! grep -qF "SIG$sig arrived during the start of $names; stopped the servers and did not run touch" <<<"$err"; then
    fail "SIG$sig during the start: stderr does not say so: $err"
  elif [ "$elapsed" -ge "$max_ms" ]; then
    fail "SIG$sig during the start: fixturectl took ${elapsed} ms to end (want < $max_ms ms)"
  elif [ -e "$marker" ]; then
    fail "SIG$sig during the start: CMD ran"
  else
    pass "SIG$sig during the start of $names: status $status after ${elapsed} ms, CMD not run"
  fi
  local left
  left=$(running $pids)
  [ -z "$left" ] || fail "SIG$sig during the start: still running after fixturectl: $left"
}

# SIGTERM during a start that takes 3 s.
signal_during_start TERM 'server "slow"' -- run --server="$slow" --name=slow --arg=--label=tag=$tag

# During a start that never ends (60 s ready_timeout): SIGINT, SIGHUP, SIGTERM.
for sig in INT HUP TERM; do
  signal_during_start "$sig" 'server "hung"' -- \
    run --ready_timeout=60s --server="$hung" --name=hung --arg=--label=tag=$tag
done

# Two servers at once, one of them hung: the signal names the one under way
# (the other may have been up already, or under way too), and both are gone.
rm -f "$marker"
"$fixturectl" run --ready_timeout=60s --server="$kv_server" --name=kv --arg=--label=tag=$tag \
  --server="$hung" --name=hung --arg=--label=tag=$tag -- touch "$marker" 2>"$TEST_TMPDIR/stderr" &
fx=$!
if read_event "$started_fd" 10 pids; then
  kill -TERM "$fx"
  wait "$fx"
  status=$?
  if [ "$status" -ne 143 ] || ! grep -qE 'SIGTERM arrived during the start of servers? ("kv", )?"hung"' "$TEST_TMPDIR/stderr"; then
    fail "two servers, SIGTERM: status $status; stderr: $(cat "$TEST_TMPDIR/stderr")"
  else
    pass "two servers, SIGTERM during the start of the hung one: status 143"
  fi
  [ ! -e "$marker" ] || fail "two servers: CMD ran"
else
  fail "two servers: the hung start never began"
  kill -KILL "$fx"
  wait "$fx"
fi

# A start that fails ends the one still under way at once (not 60 s later).
t0=$(now_ms)
"$fixturectl" run --ready_timeout=60s --server="$hung" --name=hung --arg=--label=tag=$tag \
  --server="$kv_server" --name=crash --arg=--test_crash_before_ready --arg=--label=tag=$tag \
  -- touch "$marker" >"$TEST_TMPDIR/stderr" 2>&1
status=$?
elapsed=$(($(now_ms) - t0))
if [ "$status" -ne 70 ] || ! grep -qF 'server "crash" did not start' "$TEST_TMPDIR/stderr"; then
  fail "a failed start: status $status (want 70); output: $(cat "$TEST_TMPDIR/stderr")"
elif [ "$elapsed" -ge 10000 ]; then
  fail "a failed start: the hung start was not ended (fixturectl took ${elapsed} ms)"
else
  pass "a failed start ends the hung one: status 70 after ${elapsed} ms"
fi
# The hung server's pid, if its start got that far before the abort.
if read_event "$started_fd" 0.1 pids; then
  [ -z "$(running $pids)" ] || fail "a failed start: the hung server still runs"
fi
[ ! -e "$marker" ] || fail "a failed start: CMD ran"

# Nothing started here is left running.
if pgrep -f -- "$tag" >/dev/null; then
  fail "processes left running: $(pgrep -af -- "$tag")"
fi
finish
