// The restart prepared in advance (prepared_restart.cc), as reap() sees it.
#pragma once
#include <napi.h>
#include <sys/types.h>

namespace immortal {

// What RestartIfPrepared did for one exit.
struct RestartOutcome {
  pid_t restarted = 0;  // > 0: the new child's pid
  bool failed = false;  // the start failed: error is what spawn would throw
  Napi::Error error;
};

// A reap collected pid: if a restart was prepared for it and may run now, start it at once.
// The caller puts the outcome on the status ("restarted" or "restartError").
RestartOutcome RestartIfPrepared(Napi::Env env, pid_t pid);

}  // namespace immortal
