#!/usr/bin/env bash
# CMD runs in a process group of its own and is signalled and killed as a
# group: a signal fixturectl gets reaches CMD and its children; a CMD that
# ignores it is killed with its group --kill_after later; and if fixturectl
# itself is killed with SIGKILL, CMD (which ignores SIGTERM) and its children
# are gone at once too.
set -uo pipefail
set -m  # Background jobs in groups of their own that do not ignore SIGINT, as in an interactive shell.
fixturectl="$1"
kv_server="$2"
source "$(dirname "$0")/lib.sh"
tag="cmd-group-test-$$-$RANDOM"
open_events started
export STARTED="$started"
stderr="$TEST_TMPDIR/stderr"

# CMD leads its own group; fixturectl is in another.
out=$("$fixturectl" run --server="$kv_server" --arg=--label=tag=$tag -- bash -c '
  read -r _ _ _ ppid pgid _ </proc/$$/stat
  read -r _ _ _ _ parent_pgid _ </proc/$ppid/stat
  echo "$$ $pgid $parent_pgid"')
read -r cmd_pid cmd_pgid parent_pgid <<<"$out"
if [ "$cmd_pgid" = "$cmd_pid" ] && [ "$parent_pgid" != "$cmd_pgid" ]; then
  pass "CMD (pid $cmd_pid) leads process group $cmd_pgid; fixturectl's is $parent_pgid"
else
  fail "CMD's process group: pid $cmd_pid pgid $cmd_pgid, fixturectl's pgid $parent_pgid"
fi

# A SIGTERM fixturectl gets reaches CMD's whole group: CMD (which waits for
# its child, then exits 7) and the child (which notes it).
log="$TEST_TMPDIR/child.log"
rm -f "$log"
export LOG="$log"
"$fixturectl" run --kill_after=30s --server="$kv_server" --arg=--label=tag=$tag -- bash -c '
  trap "wait; exit 7" TERM  # Set before the child can say it is up.
  python3 -c "
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # sigwait: no race with a handler
open(os.environ[\"STARTED\"], \"w\").write(\"%d %d\n\" % (os.getppid(), os.getpid()))
signal.sigwait({signal.SIGTERM})
open(os.environ[\"LOG\"], \"a\").write(\"child got SIGTERM\n\")
" &
  wait' 2>"$stderr" &
fx=$!
if read_event "$started_fd" 10 cmd_pid child_pid; then
  kill -TERM "$fx"
  wait "$fx"
  status=$?
  if [ "$status" -ne 7 ]; then
    fail "forwarded SIGTERM: status $status, want CMD's 7; stderr: $(cat "$stderr")"
  elif ! grep -qx "child got SIGTERM" "$log" 2>/dev/null; then
    fail "forwarded SIGTERM: CMD's child did not get it"
  else
    pass "forwarded SIGTERM reached CMD and its child; status 7 (CMD's)"
  fi
else
  fail "forwarded SIGTERM: CMD did not start"
  kill -KILL "$fx"
  wait "$fx"
fi

# A CMD that ignores SIGTERM (and so does its child): SIGKILL to its group
# --kill_after later; fixturectl exits 128+SIGTERM and nothing of CMD is left.
"$fixturectl" run --kill_after=300ms --server="$kv_server" --arg=--label=tag=$tag -- \
  bash -c 'trap "" TERM; sleep 300 & echo "$$ $!" >"$STARTED"; wait' 2>"$stderr" &
fx=$!
if read_event "$started_fd" 10 cmd_pid child_pid; then
  t0=$(now_ms)
  kill -TERM "$fx"
  wait "$fx"
  status=$?
  elapsed=$(($(now_ms) - t0))
  left=$(running "$cmd_pid" "$child_pid")
  if [ "$status" -ne 143 ]; then
    fail "CMD ignoring SIGTERM: status $status, want 143; stderr: $(cat "$stderr")"
  elif ! grep -qF "did not exit within --kill_after=300ms of SIGTERM; killing its process group" "$stderr" ||
    ! grep -qF "bash ignored the SIGTERM fixturectl got and forwarded; killed it (and its process group) with SIGKILL" "$stderr"; then
    fail "CMD ignoring SIGTERM: stderr does not say so: $(cat "$stderr")"
  elif [ -n "$left" ]; then
    fail "CMD ignoring SIGTERM: still running after fixturectl: $left"
  elif [ "$elapsed" -lt 300 ] || [ "$elapsed" -ge 2300 ]; then
    fail "CMD ignoring SIGTERM: fixturectl took ${elapsed} ms (want --kill_after=300ms and a little)"
  else
    pass "CMD ignoring SIGTERM: its group got SIGKILL; status 143 after ${elapsed} ms"
  fi
else
  fail "CMD ignoring SIGTERM: CMD did not start"
  kill -KILL "$fx"
  wait "$fx"
fi

# fixturectl killed with SIGKILL: CMD ignores SIGTERM (its parent-death
# signal); the watchdog kills its group. The server stops too. CMD says it
# is up once the watchdog has its pid (it then names itself fixturectl-wd;
# /proc offers no event for that, so CMD looks every 10 ms, for 10 s at most).
"$fixturectl" run --server="$kv_server" --name=kv --arg=--label=tag=$tag -- bash -c '
  trap "" TERM
  sleep 300 &
  for _ in $(seq 1000); do
    for child in $(cat /proc/$PPID/task/*/children); do
      [ "$(cat /proc/$child/comm 2>/dev/null)" = fixturectl-wd ] && break 2
    done
    sleep 0.01
  done
  echo "$$ $! $FIXTURE_KV_PID" >"$STARTED"
  wait' 2>"$stderr" &
fx=$!
if read_event "$started_fd" 10 cmd_pid child_pid server_pid; then
  kill -KILL "$fx"
  wait "$fx"
  if left=$(wait_gone 20 "$cmd_pid" "$child_pid" "$server_pid"); then
    pass "fixturectl killed by SIGKILL: CMD, its child and the server are gone"
  else
    fail "fixturectl killed by SIGKILL: still running 20 s later: $left"
    ps -o pid,ppid,pgid,stat,args -p "${left// /,}"; cat "$stderr"
    kill -KILL $left 2>/dev/null
  fi
else
  fail "SIGKILL: CMD did not start"
  kill -KILL "$fx"
  wait "$fx"
fi

# SIGINT reaches CMD; it dies of it, and fixturectl says so as 128+2.
"$fixturectl" run --server="$kv_server" --arg=--label=tag=$tag -- \
  bash -c 'echo "$$" >"$STARTED"; sleep 300 & wait' 2>"$stderr" &
fx=$!
if read_event "$started_fd" 10 cmd_pid; then
  kill -INT "$fx"
  wait "$fx"
  status=$?
  [ "$status" -eq 130 ] && pass "forwarded SIGINT: status 130" ||
    fail "forwarded SIGINT: status $status, want 130; stderr: $(cat "$stderr")"
else
  fail "SIGINT: CMD did not start"
  kill -KILL "$fx"
  wait "$fx"
fi

if pgrep -f -- "$tag" >/dev/null; then
  fail "processes left running: $(pgrep -af -- "$tag")"
fi
finish
