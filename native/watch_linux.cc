// Linux: pidfd_open(2) (kernel >= 5.3). Works for any pid we may signal, not just children.
#if defined(__linux__)
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "watch.h"

namespace immortal {

#if defined(SYS_pidfd_open)
const char* ExitFdMode() {
  // Probe once: an old kernel answers ENOSYS and we fall back to polling.
  static const bool supported = [] {
    int fd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    if (fd < 0) return false;
    close(fd);
    return true;
  }();
  return supported ? "pidfd" : nullptr;
}

int OpenExitFd(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // O_CLOEXEC is implied
}
#else
const char* ExitFdMode() { return nullptr; }

int OpenExitFd(pid_t) {
  errno = ENOSYS;
  return -1;
}
#endif

void DrainExitFd(int) {}

}  // namespace immortal
#endif
