#!/usr/bin/env bash
# The body of every fixture_test (tools/defs.bzl): `fixturectl run ...`, with
# fixturectl's path as the first argument. Test arguments come last and reach
# the wrapped test.
set -euo pipefail
fixturectl="$1"
shift
exec "$fixturectl" "$@"
