#!/usr/bin/env bash
# What a test killed under `bazel test` leaves in /tmp: runs
# //tests/sandbox:killed_test (a test that dies with a fixture in each mode
# running) under Bazel in every way it can die, and says for each socket
# directory it printed whether it is still there on the host afterwards.
#
#   tests/sandbox/killed_under_bazel.sh --sandbox_tmpfs_path=/tmp   # a tmpfs /tmp per test
#   tests/sandbox/killed_under_bazel.sh                             # this repo's .bazelrc
#   tests/sandbox/killed_under_bazel.sh --spawn_strategy=local      # unsandboxed
#
# Extra arguments go to every `bazel test` (the workspace and the output base
# must be outside /tmp for --sandbox_tmpfs_path=/tmp). Exit status 0 when
# no directory is left. Run by hand, not by `bazel test` (it runs Bazel). A
# directory is checked at once after Bazel returns: a fixture started later
# anywhere on the machine may sweep an abandoned one that is over 5 s old.
set -uo pipefail
cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../.."
bazel=tools/bazel
target=//tests/sandbox:killed_test
log="$($bazel info bazel-testlogs 2>/dev/null)/tests/sandbox/killed_test/test.log"
$bazel build "$@" "$target" >/dev/null 2>&1 || { echo "cannot build $target" >&2; exit 2; }

left_total=0
for way in abort sigkill sigterm hang teardown; do
  timeout_flag=()
  [ "$way" = hang ] && timeout_flag=(--test_timeout=5)
  before=$(ls -d /tmp/fixture-* 2>/dev/null | wc -l)
  $bazel test "$@" "${timeout_flag[@]}" --test_env=FIXTURE_KILLED_HOW="$way" --cache_test_results=no \
    --test_output=summary "$target" >/dev/null 2>&1
  after=$(ls -d /tmp/fixture-* 2>/dev/null | wc -l)
  dirs=$(sed -n 's/^socket_dir=//p' "$log")
  [ -n "$dirs" ] || { echo "$way: the test printed no socket_dir (see $log)"; continue; }
  left=0
  for dir in $dirs; do [ -e "$dir" ] && left=$((left + 1)); done
  left_total=$((left_total + left))
  tmpdir=$(sed -n 's/^test_tmpdir=//p' "$log")
  tmpdir_state="TEST_TMPDIR (${#tmpdir} bytes) removed"
  [ -e "$tmpdir" ] && tmpdir_state="TEST_TMPDIR (${#tmpdir} bytes) still there"
  echo "$way: $tmpdir_state; $left of $(wc -w <<<"$dirs") socket directories left on the host ($(tr '\n' ' ' <<<"$dirs")); /tmp/fixture-* on the host: $before before, $after after (other work on the machine counts too)"
done
[ "$left_total" -eq 0 ]
