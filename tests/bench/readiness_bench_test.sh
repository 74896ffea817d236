#!/bin/sh
# Runs //tests/bench:readiness_bench for a few cycles and checks its JSON:
# every mode's figures and every ratio, finite. No timing is asserted.
set -eu
bench="$1"
json="${TEST_TMPDIR:-/tmp}/readiness.json"
unset TEST_UNDECLARED_OUTPUTS_DIR
"$bench" --cycles=3 --json="$json"
/usr/bin/python3 -c '
import json, math, sys
d = json.load(open(sys.argv[1]))
modes = ["sd_notify", "tcp_backoff", "poll_1ms", "poll_10ms", "poll_100ms"]
assert sorted(d["modes"]) == sorted(modes), sorted(d["modes"])
for m in modes:
    f = d["modes"][m]
    assert all(math.isfinite(f[k]) and f[k] > 0 for k in ("p50_us", "p90_us", "p99_us")), (m, f)
for r in ("poll_1ms", "poll_10ms", "poll_100ms", "tcp_backoff"):
    v = d["ratios"][r + "/sd_notify"]
    assert math.isfinite(v) and v > 0, (r, v)
print("readiness_bench JSON complete")
' "$json"
