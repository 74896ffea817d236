#!/bin/sh
# Runs //tests/bench:lifecycle_bench for a few cycles of every mode, a short
# soak and a short suite, then checks that the JSON it wrote is well-formed and complete.
# No timing is asserted: this proves the bench works, not how fast things are.
set -eu

bench="$1"
json="${TEST_TMPDIR:-/tmp}/bench.json"
# Child logs would otherwise be kept as undeclared outputs, one per fixture.
unset TEST_UNDECLARED_OUTPUTS_DIR

# poll_100ms costs >= 100 ms a cycle (and a suite test): keep the counts small.
"$bench" --iterations=5 --warmup=1 --soak=20 --suite_tests=5 --suite_test_io=1ms --json="$json"

/usr/bin/python3 -c '
import json, math, sys

d = json.load(open(sys.argv[1]))
fixture_modes = ["fork_server", "exec"]
pool = "pool"
anchors = ["in_process_grpc", "in_process_channel"]
baselines = ["poll_1ms", "poll_10ms", "poll_100ms"]
floors = ["floor_fork_exit", "floor_exec_true"]
modes = d["modes"]
assert sorted(modes) == sorted(fixture_modes + [pool] + anchors + baselines + floors), sorted(modes)

def check_figure(mode, key):
    fig = modes[mode][key]
    for p in ("p50_us", "p90_us", "p99_us"):
        v = fig[p]
        assert isinstance(v, (int, float)) and math.isfinite(v) and v >= 0, (mode, key, p, v)
    assert fig["p50_us"] <= fig["p90_us"] <= fig["p99_us"], (mode, key, fig)

for name, m in modes.items():
    assert m["iterations"] >= 1, (name, m)
    assert m["kind"] in ("fixture", "anchor", "baseline", "floor"), (name, m["kind"])
    check_figure(name, "full_cycle")
    assert m["cycles_per_sec"] > 0, (name, m["cycles_per_sec"])
    if name in anchors:
        assert m["kind"] == "anchor" and "child_peak_rss_kb" not in m, (name, m)
    else:
        assert m["child_peak_rss_kb"]["p50"] > 0, (name, m["child_peak_rss_kb"])
for name in [pool] + anchors:
    assert modes[name]["failures"] == 0, (name, modes[name])
    for key in ("start_to_ready", "first_rpc", "stop"):
        check_figure(name, key)
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
    for f in fixture_modes + [pool]:
        r = ratios[b + "/" + f]
        assert r["start_to_ready_p50"] > 0 and r["full_cycle_p50"] > 0, (b, f, r)
for key in ("exec/fork_server", "exec/pool", "pool/in_process_grpc", "pool/in_process_channel",
            "fork_server/in_process_grpc", "exec/in_process_grpc", "fork_server/floor_fork_exit",
            "exec/floor_exec_true"):
    assert key in ratios and ratios[key]["full_cycle_p50"] > 0, (key, sorted(ratios))
assert ratios["fork_server/in_process_grpc"]["stop_p50"] > 0, ratios["fork_server/in_process_grpc"]

suite = d["suite"]
assert suite["tests"] == 5 and suite["test_io_ms"] == 1 and suite["pool_size"] == 2, suite
runs = suite["runs"]
assert sorted(runs) == sorted(["shared", "shared_reset", "pool", "fork_server", "exec", "poll_100ms", "in_process_grpc"]), sorted(runs)
for name, run in runs.items():
    assert run["failures"] == 0, (name, run)
    assert run["total_ms"] > 0 and run["per_test_ms"] > 0 and run["total_vs_shared"] > 0, (name, run)
    assert "overhead_per_test_ms" in run, (name, run)
assert runs["shared"]["total_vs_shared"] == 1, runs["shared"]

targets = d["targets"]
assert len(targets) == 5, targets
for t in targets:
    assert t["measured"] > 0 and t["goal"] > 0 and isinstance(t["holds"], bool), t

soak = d["soak"]
assert soak["cycles_per_mode"] == 20, soak
assert soak["failures"] == 0, soak
assert soak["equal"] is True, soak
for key in ("open_fds", "threads", "child_processes", "fork_server_children", "temp_dirs"):
    assert soak["before"][key] == soak["after"][key], (key, soak)
assert soak["slowest_cycle_us"] > 0 and soak["slowest_cycle_mode"] in fixture_modes, soak
print("bench JSON OK: %d modes, %d ratios, soak equal, %d suite runs, %d targets" %
      (len(modes), len(ratios), len(runs), len(targets)))
' "$json"
