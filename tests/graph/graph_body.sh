#!/usr/bin/env bash
# The body of graph_test: runs with a, b, migrate, c and d up (fixture_test
# of :c and :d), and checks from the events file that they came up in the
# graph's order with the addresses substituted.
set -u
events="$TEST_TMPDIR/events"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# The line number of the first line matching regex $1 (0 if none).
line_of() { grep -n -m1 -E -- "$1" "$events" | cut -d: -f1 || true; }

cat "$events"
[ "${FIXTURE_SERVERS:-}" = "a b c d" ] || fail "FIXTURE_SERVERS is \"${FIXTURE_SERVERS:-}\", want \"a b c d\" (the spec's order; tasks are not servers)"
address="${FIXTURE_A_HTTP:-}"
[[ "$address" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "FIXTURE_A_HTTP is \"$address\""

# a and b waited for each other's start: both ready means started at once.
ready_a=$(line_of "^ready a$")
ready_b=$(line_of "^ready b$")
{ [ -n "$ready_a" ] && [ -n "$ready_b" ]; } || fail "a or b never said ready"
# The task knows of its deps only (a), whether b is ready by then or not.
task=$(line_of "^task migrate $address \(FIXTURE_SERVERS=a\)$")
[ -n "$task" ] || fail "no \"task migrate $address (FIXTURE_SERVERS=a)\" line"
start_c=$(line_of "^start c --backend=$address$")
[ -n "$start_c" ] || fail "no \"start c --backend=$address\" line"
if [ -n "$task" ] && [ -n "$start_c" ] && [ -n "$ready_a" ] && [ -n "$ready_b" ]; then
  ((task > ready_a)) || fail "the task ran before a was ready"
  ((start_c > task && start_c > ready_b)) || fail "c started before the task or b"
fi
# d (no deps) started with a and b, and was ready only after c started.
start_d=$(line_of "^start d( |$)")
ready_d=$(line_of "^ready d$")
if [ -n "$start_d" ] && [ -n "$ready_d" ] && [ -n "$start_c" ]; then
  ((start_d < start_c && ready_d > start_c)) || fail "d did not start before c, or was ready before c started"
else
  fail "no \"start d\" or \"ready d\" line"
fi
[ "$(grep -c "^start " "$events")" -eq 4 ] || fail "not one start per server"

# c's env got the address too (the server's environment, from /proc).
env_c=$(tr '\0' '\n' <"/proc/$FIXTURE_C_PID/environ" | grep "^GRAPH_BACKEND=" || true)
[ "$env_c" = "GRAPH_BACKEND=$address" ] || fail "c's GRAPH_BACKEND is \"$env_c\""

if ((failures > 0)); then exit 1; fi
echo "PASS"
