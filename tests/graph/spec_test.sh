#!/usr/bin/env bash
# fixturectl run --spec: the graph written by fixture_test (graph_test's) run
# from the shell, so that what happens after CMD (the stops) is seen; and
# hand-written specs: a failing task, a cycle, an unknown dep.
set -u
fixturectl="$1"
graph_spec="$2"
event_server="$3"
event_task="$4"
export TEST_TMPDIR="${TEST_TMPDIR:-$(mktemp -d)}"
events="$TEST_TMPDIR/events"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# The whole graph, CMD true: then the stops, each server before its deps (c
# before a and b; d has none), in the reverse of the order they became ready.
: >"$events"
out=$("$fixturectl" run --spec="$graph_spec" -- true 2>&1)
status=$?
stops=$(grep "^stop " "$events" | tr '\n' ' ')
stop_line() { grep -n -m1 "^stop $1$" "$events" | cut -d: -f1; }
if [ "$status" -eq 0 ] && [ "$(tr ' ' '\n' <<<"${stops//stop /}" | sort | tr -d '\n')" = "abcd" ] &&
  (($(stop_line c) < $(stop_line a) && $(stop_line c) < $(stop_line b))); then
  pass "graph up and down; c stopped before its deps: $stops"
else
  fail "status $status, stops \"$stops\", output: $out; events: $(cat "$events")"
fi

# A failing task: 70, its exit status and output tail; its dependent never
# starts, CMD never runs, what was started is stopped.
: >"$events"
cat >"$TEST_TMPDIR/failing.spec" <<SPEC
servers { name: "db" binary: "$event_server" args: "db" ready: "log:^serving$" }
servers { name: "migrate" binary: "$event_task" args: "migrate" env { key: "TASK_EXIT" value: "3" } deps: "db" task: true }
servers { name: "app" binary: "$event_server" args: "app" ready: "log:^serving$" deps: "migrate" }
SPEC
out=$("$fixturectl" run --spec="$TEST_TMPDIR/failing.spec" -- sh -c 'echo cmd ran >>"$TEST_TMPDIR/events"' 2>&1)
status=$?
if [ "$status" -eq 70 ] && grep -q 'task "migrate" (pid [0-9]*, .*) exited with status 3' <<<"$out" &&
  grep -q "  | migrate: the migration failed (exit 3" <<<"$out" && ! grep -q "^start app\|cmd ran" "$events" &&
  grep -q "^stop db$" "$events"; then
  pass "failing task: 70, $(head -c 200 <<<"$out")"
else
  fail "failing task: status $status, output: $out; events: $(cat "$events")"
fi

# SIGTERM while a task runs: the task is killed, the start ends (143), CMD
# never runs, what was started is stopped.
: >"$events"
cat >"$TEST_TMPDIR/hanging.spec" <<SPEC
servers { name: "db" binary: "$event_server" args: "db" ready: "log:^serving$" }
servers { name: "migrate" binary: "$event_task" args: "migrate" env { key: "TASK_HANG" value: "1" } deps: "db" task: true }
SPEC
"$fixturectl" run --spec="$TEST_TMPDIR/hanging.spec" --ready_timeout=60s -- sh -c 'echo cmd ran >>"$TEST_TMPDIR/events"' \
  >"$TEST_TMPDIR/hanging.out" 2>&1 &
ctl=$!
for _ in $(seq 3000); do grep -q "^task migrate" "$events" && break; sleep 0.01; done
kill -TERM "$ctl"
wait "$ctl"
status=$?
out=$(cat "$TEST_TMPDIR/hanging.out")
if [ "$status" -eq 143 ] && grep -q 'SIGTERM arrived while task "migrate" ran; killed it' <<<"$out" &&
  ! grep -q "cmd ran" "$events" && grep -q "^stop db$" "$events" && ! pgrep -f "TASK_HANG|event_task.sh migrate" >/dev/null; then
  pass "SIGTERM during a task: 143, $out"
else
  fail "SIGTERM during a task: status $status, output: $out; events: $(cat "$events")"
fi

# A cycle, an unknown dep, a file that does not parse: 64 before anything
# starts.
# expect_usage_error WHAT SPEC_TEXT PATTERN: fixturectl run --spec of
# SPEC_TEXT exits 64 with a message matching PATTERN, and nothing started.
expect_usage_error() {
  local what="$1" spec="$TEST_TMPDIR/$1.spec" out status
  printf '%s\n' "$2" >"$spec"
  : >"$events"
  out=$("$fixturectl" run --spec="$spec" -- true 2>&1)
  status=$?
  if [ "$status" -eq 64 ] && grep -q -- "$3" <<<"$out" && [ ! -s "$events" ]; then
    pass "$what: 64, $out"
  else
    fail "$what: status $status, output: $out; events: $(cat "$events")"
  fi
}
expect_usage_error cycle "servers { name: \"x\" binary: \"$event_server\" args: \"x\" deps: \"y\" }
servers { name: \"y\" binary: \"$event_server\" args: \"y\" deps: \"x\" }
servers { name: \"z\" binary: \"$event_server\" args: \"z\" }" "the deps form a cycle among: x, y"
expect_usage_error unknown_dep "servers { name: \"x\" binary: \"$event_server\" args: \"x\" deps: \"nobody\" }" \
  '"x" depends on "nobody", which is no server'
expect_usage_error unparsable 'servers { name: "x" binari: "y" }' "unparsable.spec: line 1, column"
# A dep's address named by a server that does not list the dep.
expect_usage_error undeclared_dep "servers { name: \"x\" binary: \"$event_server\" args: \"x\" ports: \"http\" }
servers { name: \"y\" binary: \"$event_server\" args: \"{x.http}\" }" '"y" names {x.http}, but "x" is not among its deps'

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo PASS
