#include "server/clock_calibration.h"

#include "absl/base/internal/sysinfo.h"

namespace fixture::server {

void CalibrateAbseilClock() {
  // The value abseil's Mutex asks for; computed once per process.
  (void)absl::base_internal::NominalCPUFrequency();
}

}  // namespace fixture::server
