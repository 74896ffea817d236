#!/usr/bin/env bash
# The README's first command is a test: run //tools:demo as
# `tools/bazel run //tools:demo` does and check its timeline, line by line:
# the server became ready with a pid and a control socket, answered status,
# stored and read values, counted the calls, and stopped cleanly by control
# Shutdown.
set -euo pipefail
demo="$1"
fail() { echo "FAIL: $*" >&2; echo "--- demo output:" >&2; echo "$out" >&2; exit 1; }

set +e
out=$("$demo" 2>&1)
status=$?
set -e
[[ $status -eq 0 ]] || fail "demo exited with status $status"

expect() {  # expect REGEX WHAT
  grep -qE "$1" <<<"$out" || fail "no line for $2 (/$1/)"
}
expect '^\[ *[0-9.]+ ms\] starting example/kv_server$' "the start"
expect '^\[ *[0-9.]+ ms\] ready: pid [0-9]+, fork->ready +[0-9.]+ ms, control unix:/.*/control\.sock$' "ready"
expect '^\[ *[0-9.]+ ms\] status: state SERVING, uptime ' "status"
expect '^ +endpoint grpc +127\.0\.0\.1:[1-9][0-9]*$' "the grpc endpoint"
expect '^\[ *[0-9.]+ ms\] Put\(apple=red\) created=1$' "the first Put"
expect '^\[ *[0-9.]+ ms\] Get\(banana\) -> yellow$' "a Get that finds"
expect '^\[ *[0-9.]+ ms\] Get\(durian\) -> error 5: ' "a Get that does not find (NOT_FOUND)"
expect '^ +/fixture\.example\.v1\.KeyValue/Put +3$' "the Put counter"
expect '^ +/fixture\.example\.v1\.KeyValue/Get +2$' "the Get counter"
expect '^\[ *[0-9.]+ ms\] stopped: pid [0-9]+ exited with status 0; stopped by control Shutdown in ' "a clean stop"
expect '^timeline: fork->ready +[0-9.]+ ms \| stop \(control Shutdown\) +[0-9.]+ ms \| whole life +[0-9.]+ ms$' \
  "the timeline"

# The control socket's directory is gone once the demo is.
dir=$(sed -nE 's|.*control unix:(/.*)/control\.sock$|\1|p' <<<"$out")
[[ -n "$dir" && ! -e "$dir" ]] || fail "socket directory $dir left behind"
echo "PASS: the demo's timeline"
