#!/usr/bin/env bash
# fixturectl's bad input: each case a clear message, its own exit status, and
# nothing left running (every server started here carries a unique label).
set -uo pipefail
fixturectl="$1"
kv_server="$2"
tag="errors-test-$$-$RANDOM"
failures=0

# expect CODE PATTERN -- fixturectl ARGS...
expect() {
  local code="$1" pattern="$2"
  shift 3
  local out status
  out=$("$fixturectl" "$@" 2>&1)
  status=$?
  if [ "$status" -ne "$code" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: fixturectl $* -> status $status (want $code), output:"
    echo "$out" | sed 's/^/  | /'
    echo "  (want a line matching: $pattern)"
    failures=$((failures + 1))
  else
    echo "ok: fixturectl $* -> $status"
  fi
}

expect 64 "unknown flag --frobnicate" -- status --frobnicate
expect 64 "no command" -- --control=unix:/x
expect 64 "unknown command \"stat\"" -- stat --control=unix:/x
expect 64 "Illegal value 'soon'" -- wait-ready --control=unix:/x --timeout=soon
expect 64 "needs at least one --server" -- run -- true
expect 64 "needs a command after --" -- run --server="$kv_server"
expect 64 "--name before any --server" -- run --name=x --server="$kv_server" -- true
expect 64 "--control=ADDR is required" -- status
expect 64 "both give FIXTURE_KV_1_\*" -- run --server="$kv_server" --name=kv-1 --server="$kv_server" --name=kv.1 -- true
expect 66 "no executable \"/no/such/server\"" -- run --server=/no/such/server -- true
expect 69 "nobody listens on unix:$TEST_TMPDIR/none.sock" -- status --control="unix:$TEST_TMPDIR/none.sock"
# A socket file nobody serves on (TEST_TMPDIR is too long for a socket path).
short=$(mktemp -d /tmp/fixturectl-test.XXXXXX)
trap 'rm -rf "$short"' EXIT
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$short/dead.sock"
expect 69 "GetStatus on unix:$short/dead.sock failed" -- status --control="unix:$short/dead.sock" --timeout=2s
expect 70 "killed by signal 6 \(SIGABRT\) before it was ready" -- \
  run --server="$kv_server" --arg=--test_crash_before_ready --arg=--label=tag=$tag -- true
expect 70 "crashing before ready as --test_crash_before_ready asks" -- \
  run --server="$kv_server" --arg=--test_crash_before_ready --arg=--label=tag=$tag -- true
expect 75 "was not ready within ready_timeout 300ms" -- \
  run --server="$kv_server" --ready_timeout=300ms --arg=--test_hang_before_ready --arg=--label=tag=$tag -- true
expect 71 "killed by signal 6 \(SIGABRT\) while serving" -- \
  run --server="$kv_server" --name=kv --arg=--label=tag=$tag -- bash -c \
  'kill -ABRT $FIXTURE_KV_PID; for i in $(seq 500); do kill -0 $FIXTURE_KV_PID 2>/dev/null || exit 0; sleep 0.01; done; exit 9'
expect 127 "no-such-command-here: command not found" -- run --server="$kv_server" --arg=--label=tag=$tag -- no-such-command-here
printf '#!/no/such/interpreter\necho hi\n' >"$short/bad-interpreter.sh"
printf 'echo no shebang, not ELF\n' >"$short/not-executable-format"
chmod +x "$short/bad-interpreter.sh" "$short/not-executable-format"
expect 127 "execve\(.*bad-interpreter.sh\): No such file or directory \(is the interpreter on its #! line installed\?\)" -- \
  run --server="$kv_server" --arg=--label=tag=$tag -- "$short/bad-interpreter.sh"
expect 126 "cannot run .*not-executable-format: execve\(.*\): Exec format error" -- \
  run --server="$kv_server" --arg=--label=tag=$tag -- "$short/not-executable-format"

# Nothing started here is left running.
if pgrep -f -- "$tag" >/dev/null; then
  echo "FAIL: processes left running:"; pgrep -af -- "$tag"
  failures=$((failures + 1))
fi
[ "$failures" -eq 0 ] && echo "PASS" || { echo "$failures failure(s)"; exit 1; }
