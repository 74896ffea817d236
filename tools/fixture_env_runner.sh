#!/usr/bin/env bash
# The binary of a fixture_env (tools/defs.bzl): `fixturectl run --spec` of
# its graph, with this script itself as CMD in --hold mode, which prints every
# server's addresses and waits until Ctrl-C or SIGTERM; fixturectl then stops
# the servers in reverse order. @FIXTURECTL@ and @SPEC@ are filled in by the
# rule (paths from the runfiles directory of the main workspace).
set -euo pipefail
if [[ "${1:-}" == --hold ]]; then
  for name in ${FIXTURE_SERVERS:-}; do
    var=$(echo "$name" | tr '[:lower:]' '[:upper:]' | tr -c 'A-Z0-9\n' '_')
    control="FIXTURE_${var}_CONTROL"
    pid="FIXTURE_${var}_PID"
    printf 'fixture_env: %-10s control %s  pid %s\n' "$name" "${!control}" "${!pid}"
    env | LC_ALL=C sort | while IFS='=' read -r key value; do
      case "$key" in
        "FIXTURE_${var}_CONTROL" | "FIXTURE_${var}_PID") ;;
        "FIXTURE_${var}_"*) printf 'fixture_env: %-10s %-7s %s\n' "$name" "$(echo "${key#FIXTURE_${var}_}" | tr '[:upper:]' '[:lower:]')" "$value" ;;
      esac
    done
  done
  echo "fixture_env: up; Ctrl-C or SIGTERM stops everything."
  waiter=""
  # (The waiter may be dead already: the signal reached the whole group.)
  trap '[ -n "$waiter" ] && { kill "$waiter" 2>/dev/null || true; }; exit 0' INT TERM HUP
  while :; do
    sleep 3600 &
    waiter=$!
    wait "$waiter" || true
  done
fi
self="$(realpath "${BASH_SOURCE[0]}")"
exec "@FIXTURECTL@" run --spec="@SPEC@" "$@" -- "$self" --hold
