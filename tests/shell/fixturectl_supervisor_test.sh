#!/usr/bin/env bash
# fixturectl restart|kill|pause|resume NAME from `fixturectl run`'s CMD, on a
# real kv_server with real KeyValue calls (kv_cli) at the address CMD was
# given: a restart brings a fresh process on the same address, a kill is no
# crash of the run and a restart brings it back, a pause stops the process
# (state T) until resume; bad names and signals, and a supervisor asked
# after CMD ended, each get their exit status and a message.
set -uo pipefail
fixturectl="$1"
kv_server="$2"
kv_cli="$3"
source "$(dirname "$0")/lib.sh"

# state PID: the process's state letter in /proc/PID/stat (after the name).
state() { sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat"; }

if [ "${4:-}" = "inner" ]; then
  # Run as CMD: the checks; their failures are the exit status.
  old="$FIXTURE_KV_PID"
  expect 0 "^created$" -- "$kv_cli" put a 1
  out=$("$fixturectl" restart kv 2>&1)
  if [[ "$out" =~ ^restarted\ kv:\ pid\ ([0-9]+)\ \(was\ pid\ $old,\ exited\ with\ status\ 0\;\ stopped\ by\ control ]]; then
    new="${BASH_REMATCH[1]}"
    pass "restart: $out"
  else
    fail "restart: $out"
    finish
  fi
  [ "$new" != "$old" ] && wait_gone 5 "$old" >/dev/null && pass "pid $old is gone, pid $new serves" ||
    fail "old pid $old, new $new"
  # The same address (FIXTURE_KV_GRPC), a fresh process.
  expect 1 "NOT_FOUND" -- "$kv_cli" get a
  expect 0 "^created$" -- "$kv_cli" put a 2

  expect 0 "^killed kv: pid $new, SIGKILL$" -- "$fixturectl" kill kv
  wait_gone 5 "$new" >/dev/null && pass "kill: pid $new is gone" || fail "kill: pid $new still runs"
  expect 0 "^restarted kv: pid [0-9]+ \(was pid $new, killed by signal 9 \(SIGKILL\); stopped by already exited in [^)]*\)$" -- \
    "$fixturectl" restart kv
  expect 0 "^created$" -- "$kv_cli" put b 1

  out=$("$fixturectl" pause kv 2>&1)
  if [[ "$out" =~ ^paused\ kv:\ pid\ ([0-9]+)$ ]] && [ "$(state "${BASH_REMATCH[1]}")" = T ]; then
    pass "pause: $out, state T"
  else
    fail "pause: $out"
  fi
  expect 1 "is already paused; Resume\(\) it first" -- "$fixturectl" pause kv
  expect 0 "^resumed kv: pid [0-9]+$" -- "$fixturectl" resume kv
  expect 0 "^1$" -- "$kv_cli" get b

  # A server that exited on its own (a control Shutdown from CMD) comes back too.
  expect 0 "^pid [0-9]+ stopped$" -- "$fixturectl" shutdown --control="$FIXTURE_KV_CONTROL"
  expect 0 "^restarted kv: pid [0-9]+ \(was pid [0-9]+, exited with status 0; stopped by already exited" -- \
    "$fixturectl" restart kv
  expect 0 "^created$" -- "$kv_cli" put c 1

  expect 64 "no server \"nope\" in this run; it has: kv" -- "$fixturectl" restart nope
  expect 64 "name the server" -- "$fixturectl" restart
  expect 64 "--signal=FOO: no such signal" -- "$fixturectl" kill kv --signal=FOO
  expect 64 "Kill\(SIGSTOP\): use Pause\(\)" -- "$fixturectl" kill kv --signal=STOP
  expect 64 "--supervisor \(or FIXTURE_SUPERVISOR\)=ADDR is required" -- env -u FIXTURE_SUPERVISOR "$fixturectl" pause kv
  echo "$FIXTURE_SUPERVISOR" >"$TEST_TMPDIR/supervisor"
  finish
fi

# The checks, as CMD; the run exits with their status.
expect 0 "^PASS$" -- "$fixturectl" run --server="$kv_server" --name=kv -- "$0" "$fixturectl" "$kv_server" "$kv_cli" inner

# Once CMD has ended, nobody answers there.
expect 69 "nobody listens on unix:.*supervisor.sock" -- "$fixturectl" restart kv --supervisor="$(cat "$TEST_TMPDIR/supervisor")"

# CMD's steps for the runs below, a script of their own.
cat >"$TEST_TMPDIR/cmd.sh" <<'CMD'
#!/usr/bin/env bash
# cmd.sh FIXTURECTL SIGNAL [take-port]: kills server kv with SIGNAL and waits
# until it is gone; with take-port, then binds its endpoint's port and asks
# for a restart, exiting with fixturectl's status.
source "$(dirname "$0")/lib.sh"
"$1" kill kv --signal="$2" || exit 1
wait_gone 10 "$FIXTURE_KV_PID" || exit 1
[ "${3:-}" = take-port ] || exit 0
exec python3 -c '
import os, socket, subprocess, sys
host, port = os.environ["FIXTURE_KV_GRPC"].rsplit(":", 1)
thief = socket.socket()
thief.bind((host, int(port)))
thief.listen()
sys.exit(subprocess.run([sys.argv[1], "restart", "kv"]).returncode)' "$1"
CMD
chmod +x "$TEST_TMPDIR/cmd.sh"
cp "$(dirname "$0")/lib.sh" "$TEST_TMPDIR/lib.sh"

# A server CMD kills and leaves dead is no crash of the run: CMD's status (0).
expect 0 "server \"kv\" exited with status 0, as .*cmd.sh asked \(Kill on FIXTURE_SUPERVISOR\)" -- \
  "$fixturectl" run --server="$kv_server" --name=kv -- "$TEST_TMPDIR/cmd.sh" "$fixturectl" TERM

# One whose restart fails (its endpoint's port taken meanwhile): 70, with the
# new process's exit and stderr tail, as the run's CMD's status.
expect 70 "Restart of \"kv\" .* failed: Restart\(\): the old process ended \(killed by signal 9 \(SIGKILL\)\), the new one did not start" -- \
  "$fixturectl" run --server="$kv_server" --name=kv -- "$TEST_TMPDIR/cmd.sh" "$fixturectl" KILL take-port
finish
