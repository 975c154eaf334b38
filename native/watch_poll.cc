// The fallback every platform has: kill(pid, 0). Used only where no exit fd exists,
// or when forced (IMMORTAL_WATCH=poll) to test and measure this path.
#include <errno.h>
#include <signal.h>

#include "watch.h"

namespace immortal {

bool PidGone(pid_t pid) { return kill(pid, 0) < 0 && errno == ESRCH; }

#if !defined(__linux__) && !defined(__APPLE__) && !defined(__FreeBSD__)
const char* ExitFdMode() { return nullptr; }

int OpenExitFd(pid_t) {
  errno = ENOSYS;
  return -1;
}

void DrainExitFd(int) {}
#endif

}  // namespace immortal
