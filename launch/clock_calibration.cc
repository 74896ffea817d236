#include "fixture/launch/clock_calibration.h"

#include <atomic>

#include "absl/base/internal/sysinfo.h"

namespace fixture {
namespace {

std::atomic<bool> calibrated{false};

}  // namespace

void CalibrateAbseilClock() {
  // The value abseil's Mutex asks for; computed once per process.
  (void)absl::base_internal::NominalCPUFrequency();
  calibrated.store(true);
}

bool AbseilClockCalibrated() { return calibrated.load(); }

}  // namespace fixture
