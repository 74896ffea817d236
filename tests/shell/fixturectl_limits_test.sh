#!/usr/bin/env bash
# Exhausted limits: with too few file descriptors (ulimit -n 10..20, set in
# a subshell) or threads (ulimit -u as another user), fixturectl neither
# aborts (gRPC's "Eventfd wakeup fd is not supported") nor hangs nor exits
# with a silent 126: it fails at once with 70 and a message with the errno
# text and what to do. For every limit from 8 to 48 the outcome is either
# the command's status or that message.
#
# Above the up-front thread check (ulimit -u 14 and more), fixturectl and
# fixture::Fixture in a test process (limits_probe) still end: a gRPC thread
# of the parent that cannot start made the teardown of its control channel
# wait forever (~Channel -> TimerManager::Shutdown); it is bounded now.
set -uo pipefail
fixturectl="$1"
kv_server="$2"
limits_probe="$3"
source "$(dirname "$0")/lib.sh"
tag="limits-test-$$-$RANDOM"

# run_with_limit LIMIT SERVERS: fixturectl run with SERVERS kv_servers under
# `ulimit -n LIMIT`; sets $status and $out.
run_with_limit() {
  local limit="$1" servers="$2" args=() i
  for ((i = 0; i < servers; i++)); do args+=(--server="$kv_server" --name="kv$i" --arg=--label=tag=$tag); done
  out=$( (ulimit -n "$limit" && exec timeout -k 5 30 "$fixturectl" run "${args[@]}" -- true) 2>&1)
  status=$?
}

emfile_message() {
  local limit="$1" servers="$2" noun=server
  [ "$servers" -eq 1 ] || noun=servers
  echo "fixturectl: too few file descriptors: \`run\` with $servers $noun needs [0-9]+ free, but only [0-9]+ could be opened \(ulimit -n is $limit\): eventfd\(\): Too many open files \(EMFILE\); the limit on open files is reached: raise it \(ulimit -n, now $limit; e\.g\. ulimit -n 1024\) and run again"
}

# ulimit -n 10..20: exit 70 with the message, at once.
for limit in 10 12 14 16 18 20; do
  run_with_limit "$limit" 1
  if [ "$status" -eq 70 ] && grep -qE -- "$(emfile_message "$limit" 1)" <<<"$out"; then
    pass "ulimit -n $limit: 70, $(head -c 150 <<<"$out")..."
  else
    fail "ulimit -n $limit: status $status, output: $out"
  fi
done

# Every limit up to 48, with 1 and 2 servers: CMD's status 0 or that message,
# nothing else; and the check asks for no absurd number.
for servers in 1 2; do
  first_ok=""
  for limit in $(seq 8 48); do
    run_with_limit "$limit" "$servers"
    if [ "$status" -eq 0 ]; then
      [ -n "$first_ok" ] || first_ok=$limit
    elif [ "$status" -eq 70 ] && grep -qE -- "$(emfile_message "$limit" "$servers")" <<<"$out"; then
      [ -z "$first_ok" ] || fail "$servers server(s), ulimit -n $limit: refused, but $first_ok worked"
    else
      fail "$servers server(s), ulimit -n $limit: status $status, output: $out"
    fi
  done
  if [ -n "$first_ok" ]; then
    pass "$servers server(s): every ulimit -n from 8 to 48 gives 0 or exit 70 with the message; the first that works is $first_ok"
  else
    fail "$servers server(s): no ulimit -n up to 48 works"
  fi
done

# Too few threads (ulimit -u as a user other than root, for whom it counts):
# 70 with the errno text (EAGAIN) and what to do, at once.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
  setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
  copy=$(mktemp -d /tmp/fixturectl-limits.XXXXXX)
  trap 'rm -rf "$copy"' EXIT
  cp "$fixturectl" "$kv_server" "$copy/"
  chmod 755 "$copy" "$copy"/*
  cp "$limits_probe" "$copy/"
  chmod 755 "$copy"/*
  # Socket directories and logs go where uid 65534 may write (not Bazel's
  # TEST_TMPDIR or TEST_UNDECLARED_OUTPUTS_DIR).
  mkdir "$copy/tmp"
  chmod 1777 "$copy/tmp"
  as_nobody() { # as_nobody LIMIT COMMAND...: COMMAND in $copy as uid 65534 under ulimit -u LIMIT
    local limit="$1"
    shift
    # Under ASan, no leak check: LeakSanitizer needs a thread of its own at
    # exit (at ulimit -u 1 it cannot start: "fatal error", exit 1), and a
    # teardown left behind on purpose (fixture/bounded_release.h) is one.
    (cd "$copy" && timeout -k 5 "$as_nobody_timeout" env -u TEST_TMPDIR -u TEST_UNDECLARED_OUTPUTS_DIR TMPDIR="$copy/tmp" \
      ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
      setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "ulimit -u $limit && exec $*" 2>&1)
  }
  as_nobody_timeout=30
  for limit in 1 4; do
    out=$(as_nobody "$limit" ./fixturectl run --server=./kv_server -- true)
    status=$?
    want="too few threads: \`run\` with 1 server needs [0-9]+, but only [0-9]+ could be started \(ulimit -u is $limit\): cannot create a thread: Resource temporarily unavailable \(EAGAIN\); the limit on processes and threads is reached: raise it \(ulimit -u, now $limit\)"
    if [ "$status" -eq 70 ] && grep -qE -- "$want" <<<"$out"; then
      pass "ulimit -u $limit as uid 65534: 70, $(head -c 150 <<<"$out")..."
    else
      fail "ulimit -u $limit as uid 65534: status $status, output: $out"
    fi
  done

  # Every limit from 1 to 32: fixturectl ends within the timeout, with
  # CMD's status (0) or 70 with its message (a server, or CMD, could not
  # be started: fork() of CMD at EAGAIN is a failed start too, not 126);
  # never a hang (124) or a death by signal.
  outcomes=()
  first_ok=""
  for limit in $(seq 1 32) 64; do
    out=$(as_nobody "$limit" ./fixturectl run --server=./kv_server -- true)
    status=$?
    case "$status" in
      0)
        outcomes+=("$limit:0")
        [ -n "$first_ok" ] || first_ok=$limit
        ;;
      70) grep -q "^fixturectl: " <<<"$out" && outcomes+=("$limit:70") ||
        fail "ulimit -u $limit: 70 without a message: $out" ;;
      *) fail "ulimit -u $limit as uid 65534: fixturectl status $status (124: a hang), output: $out" ;;
    esac
  done
  if [ -n "$first_ok" ]; then
    pass "fixturectl, ulimit -u 1..32 and 64 as uid 65534, each ended: ${outcomes[*]}"
  else
    fail "fixturectl as uid 65534: no ulimit -u up to 64 ran CMD: ${outcomes[*]}; last output: $out"
  fi

  # fixture::Fixture in a process whose first use of gRPC is the fixture's
  # control channel, set up while the server starts (limits_probe
  # threaded), two start/stop cycles at every limit from 3 to 26: it gets
  # to the end ("done"), within 5 s per channel teardown left behind
  # (said on stderr), never a hang or an abort: at 1 and 2, where not even
  # the fixture's fork thread can start, Start() fails with the EAGAIN text.
  as_nobody_timeout=40
  slowest=0
  served=0
  probe_failures=$failures
  for limit in $(seq 1 26) 64; do
    started=$(now_ms)
    out=$(as_nobody "$limit" ./limits_probe ./kv_server 2 threaded)
    status=$?
    took=$(($(now_ms) - started))
    ((took > slowest)) && slowest=$took
    if [ "$status" -ne 0 ] || ! grep -q "^done$" <<<"$out"; then
      fail "limits_probe, ulimit -u $limit: status $status (124: a hang) after ${took}ms, output: $out"
    fi
    served=$((served + $(grep -c "^stop [0-9]: pid [0-9]* exited with status 0; stopped by control Shutdown" <<<"$out")))
    left=$(grep -c "its control channel: " <<<"$out")
    ((left > 0)) && echo "  ulimit -u $limit: $left channel teardown(s) left behind, ${took}ms: $(grep -m1 "its control channel: " <<<"$out" | head -c 160)"
  done
  if ((served < 2)); then
    fail "fixture::Fixture as uid 65534: only $served clean start/stop cycles, even at ulimit -u 64: $out"
  elif ((failures == probe_failures)); then
    pass "fixture::Fixture, ulimit -u 1..26 and 64 as uid 65534: every run got to the end (slowest ${slowest}ms; $served clean cycles)"
  fi
else
  echo "skipped: ulimit -u (needs root and setpriv to become uid 65534)"
fi

if pgrep -f -- "$tag" >/dev/null; then
  fail "processes left running: $(pgrep -af -- "$tag")"
fi
finish
