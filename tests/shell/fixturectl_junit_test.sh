#!/usr/bin/env bash
# fixturectl run --junit (what fixture_test passes): Bazel's XML_OUTPUT_FILE
# gets a "fixture" suite with a case for each server's start and stop, then
# the wrapped test's own suites; failures carry the reason.
set -uo pipefail
fixturectl="$1"
kv_server="$2"
source "$(dirname "$0")/lib.sh"
tag="junit-test-$$-$RANDOM"
xml="$TEST_TMPDIR/report.xml"
valid_xml() { /usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1" 2>&1; }

# CMD writes its own report, as a gtest does (GTEST_OUTPUT is pointed at it).
rm -f "$xml"
out=$(env XML_OUTPUT_FILE="$xml" GTEST_OUTPUT=xml:/elsewhere.xml "$fixturectl" run --junit --server="$kv_server" \
  --name=kv --arg=--label=tag=$tag -- bash -c '[ "$GTEST_OUTPUT" = "xml:$XML_OUTPUT_FILE" ] || exit 9
  printf "<?xml version=\"1.0\"?>\n<testsuites tests=\"1\">\n<testsuite name=\"Inner\" tests=\"1\"><testcase name=\"Works\"/></testsuite>\n</testsuites>\n" >"$XML_OUTPUT_FILE"' 2>&1)
status=$?
report=$(cat "$xml" 2>/dev/null)
if [ "$status" -eq 0 ] && [ -z "$(valid_xml "$xml")" ] &&
  grep -q '<testsuite name="fixture" tests="2" failures="0"' <<<"$report" &&
  grep -q '<testcase name="start kv" classname="fixture" time="[0-9.e-]*"/>' <<<"$report" &&
  grep -q '<testcase name="stop kv"' <<<"$report" && grep -q '<testsuite name="Inner" tests="1"><testcase name="Works"/>' <<<"$report" &&
  [ "$(grep -c "<testsuites" <<<"$report")" -eq 1 ] && [ ! -e "$xml.cmd.xml" ]; then
  pass "merged report: $(tr '\n' ' ' <<<"$report" | head -c 300)"
else
  fail "merged report: status $status, output: $out, report: $report, $(valid_xml "$xml")"
fi

# CMD writes none and exits 3 after killing the server: both are failed cases.
rm -f "$xml"
out=$(env XML_OUTPUT_FILE="$xml" "$fixturectl" run --junit --server="$kv_server" --name=kv --arg=--label=tag=$tag -- \
  bash -c 'kill -KILL $FIXTURE_KV_PID; while kill -0 $FIXTURE_KV_PID 2>/dev/null; do sleep 0.01; done; exit 3' 2>&1)
status=$?
report=$(cat "$xml" 2>/dev/null)
if [ "$status" -eq 3 ] && [ -z "$(valid_xml "$xml")" ] && grep -q '<testsuite name="fixture" tests="3" failures="2"' <<<"$report" &&
  grep -A1 '<testcase name="stop kv"' <<<"$report" | grep -q '<failure message=".*SIGKILL' &&
  grep -A1 '<testcase name="bash"' <<<"$report" | grep -q '<failure message="bash exited with status 3'; then
  pass "failures: $(tr '\n' ' ' <<<"$report" | head -c 400)"
else
  fail "failures: status $status, output: $out, report: $report"
fi

# A start that fails: one failed "start" case with the reason.
rm -f "$xml"
out=$(env XML_OUTPUT_FILE="$xml" "$fixturectl" run --junit --server="$kv_server" --name=kv \
  --arg=--test_exit_before_ready=4 --arg=--label=tag=$tag -- true 2>&1)
status=$?
report=$(cat "$xml" 2>/dev/null)
if [ "$status" -eq 70 ] && grep -A1 '<testcase name="start"' <<<"$report" | grep -q '<failure message=".*exited with status 4'; then
  pass "failed start: $(tr '\n' ' ' <<<"$report" | head -c 300)"
else
  fail "failed start: status $status, output: $out, report: $report"
fi

# Without --junit, XML_OUTPUT_FILE is not fixturectl's to write.
rm -f "$xml"
env XML_OUTPUT_FILE="$xml" "$fixturectl" run --server="$kv_server" --arg=--label=tag=$tag -- true
[ ! -e "$xml" ] && pass "no --junit, no report" || fail "wrote $xml without --junit"

if pgrep -f -- "$tag" >/dev/null; then fail "processes left running: $(pgrep -af -- "$tag")"; fi
finish
