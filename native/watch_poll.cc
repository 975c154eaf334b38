// The fallback every platform has: kill(pid, 0). Used only where no exit fd exists,
// or when forced (IMMORTAL_WATCH=poll) to test and measure this path.
#include <errno.h>
#include <signal.h>

#if defined(__linux__)
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#endif

#include "watch.h"

namespace immortal {

#if defined(__linux__)
// kill(pid, 0) succeeds on a zombie, and a followed pid's parent may reap late or never
// (an orphan under an init that does not wait): it has exited all the same, as a pidfd says.
static bool IsZombie(pid_t pid) {
  char path[32];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* end = strrchr(buf, ')');  // comm may itself contain ')'; the state follows the last
  return end != nullptr && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X');
}
#endif

bool PidGone(pid_t pid) {
  if (kill(pid, 0) < 0 && errno == ESRCH) return true;
#if defined(__linux__)
  return IsZombie(pid);  // also when kill says EPERM: another user's zombie is gone too
#else
  return false;
#endif
}

#if !defined(__linux__) && !defined(__APPLE__) && !defined(__FreeBSD__)
const char* ExitFdMode() { return nullptr; }

int OpenExitFd(pid_t) {
  errno = ENOSYS;
  return -1;
}

void DrainExitFd(int) {}
#endif

}  // namespace immortal
