# Helpers for the fixturectl shell tests: events with deadlines, never
# sleeps. Source it; `timeout` around a command is a safety net only.
#
#   open_events started             # $started: a FIFO, opened read-write on fd $started_fd
#   read_event "$started_fd" 5 pid  # the next line a process wrote to it, within 5 s
#   wait_gone 5 "$pid" ...          # every pid has exited within 5 s (pidfds)
#   expect 0 "^cleared 1$" -- "$fixturectl" clear-faults ...  # status and output, pass or fail

failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

pass() { echo "ok: $*"; }

# expect CODE PATTERN -- COMMAND...: COMMAND exits with CODE and prints (on
# stdout or stderr) a line matching PATTERN.
expect() {
  local code="$1" pattern="$2"
  shift 3
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [ "$status" -ne "$code" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$* -> status $status (want $code), output:"
    echo "$out" | sed 's/^/  | /'
    echo "  (want a line matching: $pattern)"
  else
    pass "$* -> $status"
  fi
}

# Ends the test: PASS, or the number of failures and exit 1.
finish() {
  if [ "$failures" -eq 0 ]; then
    echo "PASS"
    exit 0
  fi
  echo "$failures failure(s)"
  exit 1
}

# open_events NAME: a FIFO at $TEST_TMPDIR/NAME.fifo in variable NAME, opened
# read-write (so that neither side blocks in open) on the fd in NAME_fd.
open_events() {
  local name="$1" path="$TEST_TMPDIR/$1.fifo" fd
  rm -f "$path"
  mkfifo "$path"
  exec {fd}<>"$path"
  printf -v "$name" '%s' "$path"
  printf -v "${name}_fd" '%s' "$fd"
}

# read_event FD SECONDS VAR...: reads one line from FD into VAR... within
# SECONDS; fails (status 1) when none came.
read_event() {
  local fd="$1" seconds="$2"
  shift 2
  read -r -t "$seconds" -u "$fd" "$@"
}

# The time now in milliseconds (bash's EPOCHREALTIME).
now_ms() {
  local t="${EPOCHREALTIME/./}"
  echo $((10#$t / 1000))
}

# wait_gone SECONDS PID...: status 0 once every PID has exited (waits on
# pidfds, up to SECONDS in all); else prints the pids still there, status 1.
wait_gone() {
  python3 - "$@" <<'EOF'
import os, select, sys, time
deadline = time.monotonic() + float(sys.argv[1])
alive = []
for pid in sys.argv[2:]:
    try:
        fd = os.pidfd_open(int(pid))
    except ProcessLookupError:
        continue
    if not select.select([fd], [], [], max(deadline - time.monotonic(), 0))[0]:
        alive.append(pid)
if alive:
    print(" ".join(alive))
    sys.exit(1)
EOF
}

# running PID...: prints those of PID... that kill -0 still reaches.
running() {
  local pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && echo -n "$pid "; done
  true
}
