// The restart prepared in advance (prepared_restart.cc), as reap() sees it.
#pragma once
#include <napi.h>
#include <sys/types.h>

namespace immortal {

// What RestartIfPrepared did for one exit.
struct RestartOutcome {
  pid_t restarted = 0;  // > 0: the new child's pid
  Napi::Error error;    // not empty: the start failed, and this is what spawn would throw
};

// A reap collected pid: if a restart was prepared for it and may run now, start it at once.
// The caller puts the outcome on the status ("restarted" or "restartError").
RestartOutcome RestartIfPrepared(Napi::Env env, pid_t pid);

}  // namespace immortal
