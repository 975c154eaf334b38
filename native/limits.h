// Resource-limit names understood by spawn's `rlimits` option (limits.cc).
#pragma once
#include <string>

namespace immortal {

// RLIMIT_* for a name such as "nofile"; false for a name this platform does not know.
bool RlimitByName(const std::string& name, int* resource);

}  // namespace immortal
