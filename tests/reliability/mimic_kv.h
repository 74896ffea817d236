// FIXTURE_SERVER(MimicKv): example/kv_server's in-process twin, registered in
// every test binary that links :mimic_kv, so that each fault can be staged in
// both launch modes.
//
// It serves the same KeyValue service on endpoint "grpc" and takes the same
// misbehaviour flags as kv_server, plus two that kv_server has no way to
// stage:
//
//   --test_crash_before_ready     abort() during setup, after a line on stderr
//   --test_exit_before_ready=N    _exit(N) during setup, after a line on stderr
//   --test_hang_before_ready      never finish setup
//   --test_crash_on_key=KEY       abort() when a Put stores KEY
//   --test_exit_on_key=KEY        _exit(kMimicExitCode) when a Put stores KEY
//   --test_hold_get=KEY           a Get of KEY sends its initial metadata (so
//                                 the client knows it is in flight) and then
//                                 holds until it is cancelled, by the client
//                                 or by the end of a stop's grace period
//   --test_sidecar                first thing in setup, start `sleep 300`
//                                 holding a copy of the readiness pipe (as a
//                                 shell script's background job would); its
//                                 pid on stderr and in label sidecar_pid
//   --test_extra_endpoint=NAME    also declare endpoint NAME on 127.0.0.1:0
//
// An unknown flag fails the setup (exit status 1, the flag on stderr).
#ifndef FIXTURE_TESTS_RELIABILITY_MIMIC_KV_H_
#define FIXTURE_TESTS_RELIABILITY_MIMIC_KV_H_

namespace fixture::reliability {

// The exit status of --test_exit_on_key.
inline constexpr int kMimicExitCode = 3;

// The status a held Get ends with when it is cancelled (as the server sees
// it; the client that cancelled sees CANCELLED).
inline constexpr char kHeldGetCancelled[] = "held Get cancelled";

}  // namespace fixture::reliability

#endif  // FIXTURE_TESTS_RELIABILITY_MIMIC_KV_H_
