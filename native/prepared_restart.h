// The restart prepared in advance (prepared_restart.cc), as reap() sees it.
#pragma once
#include <napi.h>
#include <sys/types.h>

namespace immortal {

// reap() collected pid: if a restart was prepared for it and may run now, start it at once
// and say so on status ("restarted": the new pid, or "restartError": what spawn would throw).
void RestartIfPrepared(Napi::Env env, pid_t pid, Napi::Object status);

}  // namespace immortal
