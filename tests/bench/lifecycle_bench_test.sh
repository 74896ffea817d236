#!/bin/sh
# Runs //tests/bench:lifecycle_bench for a few cycles of every mode plus a
# short soak, then checks that the JSON it wrote is well-formed and complete.
# No timing is asserted: this proves the bench works, not how fast things are.
set -eu

bench="$1"
json="${TEST_TMPDIR:-/tmp}/bench.json"
# Child logs would otherwise be kept as undeclared outputs, one per fixture.
unset TEST_UNDECLARED_OUTPUTS_DIR

# poll_100ms costs >= 100 ms a cycle: keep the cycle count small.
"$bench" --iterations=5 --warmup=1 --soak=20 --json="$json"

/usr/bin/python3 -c '
import json, math, sys

d = json.load(open(sys.argv[1]))
fixture_modes = ["fork_server", "exec"]
baselines = ["poll_1ms", "poll_10ms", "poll_100ms"]
floors = ["floor_fork_exit", "floor_exec_true"]
modes = d["modes"]
assert sorted(modes) == sorted(fixture_modes + baselines + floors), sorted(modes)

def check_figure(mode, key):
    fig = modes[mode][key]
    for p in ("p50_us", "p90_us", "p99_us"):
        v = fig[p]
        assert isinstance(v, (int, float)) and math.isfinite(v) and v >= 0, (mode, key, p, v)
    assert fig["p50_us"] <= fig["p90_us"] <= fig["p99_us"], (mode, key, fig)

for name, m in modes.items():
    assert m["iterations"] >= 1, (name, m)
    assert m["kind"] in ("fixture", "baseline", "floor"), (name, m["kind"])
    check_figure(name, "full_cycle")
    assert m["cycles_per_sec"] > 0, (name, m["cycles_per_sec"])
    assert m["child_peak_rss_kb"]["p50"] > 0, (name, m["child_peak_rss_kb"])
for name in fixture_modes:
    assert modes[name]["failures"] == 0, (name, modes[name])
    for key in ("start_to_ready", "start_to_fork", "fork_to_ready", "first_rpc",
                "control_status_cold", "control_status", "stop"):
        check_figure(name, key)
for name in baselines:
    for key in ("start_to_ready", "first_rpc", "stop"):
        check_figure(name, key)
    assert "control_status" not in modes[name], name
    assert modes[name]["died_before_ready"] >= 0 and modes[name]["false_ready"] >= 0, (name, modes[name])

ratios = d["ratios"]
for b in baselines:
    for f in fixture_modes:
        r = ratios[b + "/" + f]
        assert r["start_to_ready_p50"] > 0 and r["full_cycle_p50"] > 0, (b, f, r)
assert "exec/fork_server" in ratios, sorted(ratios)

soak = d["soak"]
assert soak["cycles_per_mode"] == 20, soak
assert soak["failures"] == 0, soak
assert soak["equal"] is True, soak
for key in ("open_fds", "threads", "child_processes", "fork_server_children", "temp_dirs"):
    assert soak["before"][key] == soak["after"][key], (key, soak)
assert soak["slowest_cycle_us"] > 0 and soak["slowest_cycle_mode"] in fixture_modes, soak
print("bench JSON OK: %d modes, %d ratios, soak equal" % (len(modes), len(ratios)))
' "$json"
