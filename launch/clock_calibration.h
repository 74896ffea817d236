// Abseil's clock calibration, done where it costs nothing.
//
// The first time a thread in a process waits on an absl::Mutex or CondVar,
// abseil reads the CPU's TSC frequency (for its contention profile).
// Where the kernel does not publish it (/sys/devices/system/cpu/cpu0/
// tsc_freq_khz, which stock kernels lack), abseil measures it by sleeping at
// least 3 ms, once per process, and every thread that needs the value
// meanwhile waits. gRPC locks absl::Mutexes, so in a fresh server that wait
// landed on the first RPCs after ready: the first GetStatus took ~2.3 ms
// instead of ~0.15 ms. (NominalCPUFrequency() is abseil-internal; this file
// is the one place that calls it.)
//
//   if (!AbseilClockCalibrated()) std::thread(CalibrateAbseilClock) ...  // off the critical path
#ifndef FIXTURE_LAUNCH_CLOCK_CALIBRATION_H_
#define FIXTURE_LAUNCH_CLOCK_CALIBRATION_H_

namespace fixture {

// Makes abseil measure the TSC frequency now (a no-op once it has). Blocks
// while it measures; a process forked afterwards inherits the result.
void CalibrateAbseilClock();

// True once CalibrateAbseilClock() has finished in this process, or in the
// process this one was forked from.
bool AbseilClockCalibrated();

}  // namespace fixture

#endif  // FIXTURE_LAUNCH_CLOCK_CALIBRATION_H_
