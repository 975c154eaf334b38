// macOS and FreeBSD: one kqueue per watched pid with EVFILT_PROC/NOTE_EXIT, so that, like a
// pidfd, it is a single fd that turns readable on exit. Built and tested on Linux only by
// reading; keep it symmetric with watch_linux.cc.
#if defined(__APPLE__) || defined(__FreeBSD__)
#include <errno.h>
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include "watch.h"

namespace immortal {

const char* ExitFdMode() { return "kqueue"; }

int OpenExitFd(pid_t pid) {
  int kq = kqueue();
  if (kq < 0) return -1;
  fcntl(kq, F_SETFD, FD_CLOEXEC);
  struct kevent change;
  EV_SET(&change, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, nullptr);
  if (kevent(kq, &change, 1, nullptr, 0, nullptr) < 0) {
    int err = errno;  // ESRCH when the pid is already gone
    close(kq);
    errno = err;
    return -1;
  }
  return kq;
}

void DrainExitFd(int fd) {
  struct kevent event;
  struct timespec now = {0, 0};
  kevent(fd, nullptr, 0, &event, 1, &now);
}

}  // namespace immortal
#endif
