// Exit watching, split by platform: each platform file provides an "exit fd" that turns
// readable once a pid has exited — pidfd on Linux, a kqueue with EVFILT_PROC elsewhere —
// so the libuv side (watch.cc) is one uv_poll for both. Polling kill(pid, 0) is the fallback.
#pragma once
#include <sys/types.h>

namespace immortal {

// Name of the platform mode ("pidfd", "kqueue") or nullptr when this build/kernel has none.
const char* ExitFdMode();

// An fd that becomes readable when pid exits; -1 with errno set (ESRCH: already gone).
int OpenExitFd(pid_t pid);

// Consumes the readiness of an exit fd (kqueue needs its event read; pidfd needs nothing).
void DrainExitFd(int fd);

// Fallback check: true once kill(pid, 0) reports the pid gone.
bool PidGone(pid_t pid);

}  // namespace immortal
