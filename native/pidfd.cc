// pidfdGetfd(pid, fd): a duplicate of another process's fd (Linux >= 5.6: pidfd_open +
// pidfd_getfd). A supervisor restarted after a crash takes its held listening sockets back
// from the service still running, instead of binding new ones (which would fail: the port
// is in use). Needs ptrace access to the pid (root, or same user without Yama restrictions).
// ENOSYS on other systems and older kernels.
#include <errno.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "errors.h"

#if defined(__linux__) && !defined(SYS_pidfd_getfd)
#define SYS_pidfd_getfd 438  // same number on every architecture (from 5.6's unified table)
#endif
#if defined(__linux__) && !defined(SYS_pidfd_open)
#define SYS_pidfd_open 434
#endif

namespace immortal {

Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  int target = info[1].As<Napi::Number>().Int32Value();
  std::string what = std::to_string(pid) + " fd " + std::to_string(target);
  if (pid <= 0 || target < 0) {
    ErrnoError(env, EINVAL, "pidfd_getfd", what).ThrowAsJavaScriptException();
    return env.Undefined();
  }
#if defined(__linux__)
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    ErrnoError(env, errno, "pidfd_open", what).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // The new fd is close-on-exec: the kernel sets it for pidfd_getfd.
  int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, target, 0));
  int err = errno;
  close(pidfd);
  if (fd < 0) {
    ErrnoError(env, err, "pidfd_getfd", what).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
#else
  ErrnoError(env, ENOSYS, "pidfd_getfd", what).ThrowAsJavaScriptException();
  return env.Undefined();
#endif
}

}  // namespace immortal
