#!/usr/bin/env bash
# A server for the graph tests: it writes what happens to it to the events
# file ($TEST_TMPDIR/events), one line each, and is ready by a log line.
#
#   event_server.sh NAME [--wait_for=OTHER] [ARGS...]
#
# "start NAME ARGS..." first; with --wait_for=OTHER it is not ready until
# OTHER has written its "start" line (two servers that wait for each other
# become ready only if they are started at once); then "ready NAME" and the
# line "serving" on stdout; "stop NAME" when SIGTERM or SIGINT ends it.
set -u
name="$1"
shift
events="$TEST_TMPDIR/events"
wait_for=""
if [[ "${1:-}" == --wait_for=* ]]; then
  wait_for="${1#--wait_for=}"
  shift
fi
echo "start $name $*" >>"$events"
trap 'echo "stop $name" >>"$events"; exit 0' TERM INT
if [[ -n "$wait_for" ]]; then
  # Until the other has started (fixturectl's ready_timeout bounds this).
  until grep -q "^start $wait_for\b" "$events"; do sleep 0.01; done
fi
echo "ready $name" >>"$events"
echo "serving"
while :; do
  sleep 60 &
  wait $!
done
