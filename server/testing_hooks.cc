#include "fixture/server/testing_hooks.h"

#include "fixture/server/setup_access.h"

namespace fixture::server::testing_hooks {

void StallControl(ServerSetup& setup) { SetupAccess::set_stall_control(setup); }

}  // namespace fixture::server::testing_hooks
