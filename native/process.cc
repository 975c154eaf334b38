// Small process-level calls: signals, liveness, the supervise lock,
// becoming a subreaper, the credentials of a control-socket peer.
#include <errno.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#endif

#include "addon.h"
#include "errors.h"

namespace immortal {

Napi::Value Kill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  int sig = info[1].As<Napi::Number>().Int32Value();
  // pid <= 0 would signal a process group or everything: never what a caller of kill() means.
  if (pid <= 0) {
    ErrnoError(env, EINVAL, "kill").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (kill(pid, sig) < 0) ErrnoError(env, errno, "kill").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value KillPg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pgid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  int sig = info[1].As<Napi::Number>().Int32Value();
  if (pgid <= 1) {
    ErrnoError(env, EINVAL, "killpg").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (killpg(pgid, sig) < 0) ErrnoError(env, errno, "killpg").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value Alive(const Napi::CallbackInfo& info) {
  pid_t pid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  if (pid <= 0) return Napi::Boolean::New(info.Env(), false);
  bool exists = kill(pid, 0) == 0 || errno == EPERM;
  return Napi::Boolean::New(info.Env(), exists);
}

// Non-blocking exclusive lock held for the supervisor's lifetime; released by the kernel
// when the process dies, so a killed supervisor never leaves a stale lock behind.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) ErrnoError(env, errno, "flock").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value SetSubreaper(const Napi::CallbackInfo& info) {
#if defined(__linux__) && defined(PR_SET_CHILD_SUBREAPER)
  bool ok = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
#elif defined(__FreeBSD__)
  bool ok = procctl(P_PID, getpid(), PROC_REAP_ACQUIRE, nullptr) == 0;
#else
  bool ok = false;
#endif
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  double uid, gid, pid = -1;
#if defined(__linux__)
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    ErrnoError(env, errno, "getsockopt").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uid = cred.uid;
  gid = cred.gid;
  pid = cred.pid;
#else
  uid_t peerUid;
  gid_t peerGid;
  if (getpeereid(fd, &peerUid, &peerGid) < 0) {
    ErrnoError(env, errno, "getpeereid").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uid = peerUid;
  gid = peerGid;
#endif
  Napi::Object result = Napi::Object::New(env);
  result.Set("uid", Napi::Number::New(env, uid));
  result.Set("gid", Napi::Number::New(env, gid));
  result.Set("pid", Napi::Number::New(env, pid));
  return result;
}

}  // namespace immortal
