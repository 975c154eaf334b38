// The restart prepared in advance (prepared_restart.cc), as reap() sees it.
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include <optional>

#include "spawn.h"

namespace immortal {

// What was done for one exit of a prepared pid.
struct RestartOutcome {
  pid_t restarted = 0;                 // > 0: the new child's pid
  std::optional<StartFailure> failure;  // the start failed: what spawn would throw
  uint64_t calledNs = 0;               // uv_hrtime() as the start began (process.hrtime's clock)
};

// A reap collected pid: the restart its exit got already (from the restart thread), or, if
// one was prepared and may run now, that restart started at once. Main thread only. The
// caller puts the outcome on the status ("restarted" or "restartError").
RestartOutcome RestartIfPrepared(pid_t pid);

}  // namespace immortal
