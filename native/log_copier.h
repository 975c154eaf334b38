// What other native code may ask of a LogCopier (log_copier.cc).
#pragma once
#include <napi.h>

#include <functional>

namespace immortal {

// The copier's endOfRun(), callable without JavaScript: for a restart the addon starts
// itself (respawn.cc), which must end the last run's output before the next run writes.
// An empty function when value is not a LogCopier.
std::function<void()> EndOfRunOf(const Napi::Value& value);

}  // namespace immortal
