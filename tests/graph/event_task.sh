#!/usr/bin/env bash
# A one-shot task for the graph tests: "task NAME ARGS... (FIXTURE_SERVERS=...)"
# in the events file, then exits with status $TASK_EXIT (default 0), saying
# why on stderr when it is not 0; with TASK_HANG set it never ends.
name="$1"
shift
echo "task $name $* (FIXTURE_SERVERS=${FIXTURE_SERVERS:-})" >>"$TEST_TMPDIR/events"
if [[ -n "${TASK_HANG:-}" ]]; then
  while :; do sleep 60; done # Never done: the test signals fixturectl meanwhile.
fi
status="${TASK_EXIT:-0}"
if [[ "$status" != 0 ]]; then echo "$name: the migration failed (exit $status, as TASK_EXIT asks)" >&2; fi
exit "$status"
