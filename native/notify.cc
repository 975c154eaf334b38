// The supervisor's end of systemd's sd_notify protocol: a unix datagram socket
// (NOTIFY_SOCKET for the service) and a libuv watch that hands each datagram to JS with
// the credentials the kernel attached to it, so messages from processes outside the
// service can be told apart (SCM_CREDENTIALS on Linux; SCM_CREDS2 on FreeBSD >= 13).
// Elsewhere (macOS) openNotifySocket reports ENOTSUP: datagrams carry no sender there.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>

#include "addon.h"
#include "errors.h"

#if defined(__linux__)
#define IMMORTAL_NOTIFY_CREDS 1
#elif defined(__FreeBSD__) && defined(LOCAL_CREDS_PERSISTENT) && defined(SCM_CREDS2)
#define IMMORTAL_NOTIFY_CREDS 1
#endif

namespace immortal {
namespace {

// systemd reads at most PIPE_BUF bytes per message and drops longer ones; so do we.
constexpr size_t kMessageMax = 4096;
// Datagrams handled per wake-up: the poll is level-triggered, so the rest come on the next
// loop turn and a flooding sender cannot starve everything else the supervisor does.
constexpr int kMessagesPerWake = 128;

struct Sender {
  int pid = -1;
  int uid = -1;
  int gid = -1;
};

#if defined(IMMORTAL_NOTIFY_CREDS)
int EnableCredentials(int fd) {
  int one = 1;
#if defined(__linux__)
  return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
#else
  return setsockopt(fd, SOL_LOCAL, LOCAL_CREDS_PERSISTENT, &one, sizeof one);
#endif
}
#endif

// Reads the sender from the control messages; closes any fds passed along (FDSTORE=1 is
// not supported, and an fd left open here would leak into the supervisor).
Sender ParseControl(struct msghdr* msg) {
  Sender sender;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int* fds = reinterpret_cast<int*>(CMSG_DATA(c));
      for (size_t i = 0; i < count; i++) close(fds[i]);
#if defined(__linux__)
    } else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      sender = Sender{static_cast<int>(cred.pid), static_cast<int>(cred.uid), static_cast<int>(cred.gid)};
#elif defined(IMMORTAL_NOTIFY_CREDS)
    } else if (c->cmsg_type == SCM_CREDS2 && c->cmsg_len >= CMSG_LEN(sizeof(struct sockcred2))) {
      struct sockcred2 cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      sender = Sender{static_cast<int>(cred.sc_pid), static_cast<int>(cred.sc_euid), static_cast<int>(cred.sc_egid)};
#endif
    }
  }
  return sender;
}

// Lives until its uv_poll is closed; JS holds it only through the close() closure's token.
struct NotifyWatch {
  uv_poll_t poll;
  int fd = -1;
  napi_env env = nullptr;
  Napi::FunctionReference onMessage;
  Napi::FunctionReference onError;
  std::unique_ptr<Napi::AsyncContext> context;
  std::shared_ptr<NotifyWatch*> token;  // shared with close(); nulled once closed
  bool closed = false;
};

// The references and the async context go with the handle, once the loop has closed it:
// close() may be called from inside one of our callbacks, while they are in use.
void FreeWatch(uv_handle_t* handle) { delete static_cast<NotifyWatch*>(handle->data); }

void CloseWatch(NotifyWatch* watch, bool fromCleanupHook);

void OnCleanup(void* raw) { CloseWatch(static_cast<NotifyWatch*>(raw), true); }

void CloseWatch(NotifyWatch* watch, bool fromCleanupHook) {
  if (watch->closed) return;
  watch->closed = true;
  *watch->token = nullptr;
  if (fromCleanupHook) {
    // The environment goes away before the loop runs the close callback: drop our JS
    // references now, while they are still valid.
    watch->onMessage.Reset();
    watch->onError.Reset();
    watch->context.reset();
  } else {
    napi_remove_env_cleanup_hook(watch->env, OnCleanup, watch);
  }
  uv_poll_stop(&watch->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), FreeWatch);
}

void Deliver(NotifyWatch* watch, Napi::FunctionReference& callback, napi_value argument) {
  Napi::Env env(watch->env);
  Napi::Function function = callback.Value();
  // MakeCallback: nextTicks/microtasks run after. A throw stays pending in the env (and
  // would fail every later N-API call): hand it to 'uncaughtException', as Node does for
  // its own callbacks.
  function.MakeCallback(env.Global(), {argument}, *watch->context);
  RethrowAsUncaught(env);
}

void ReportError(NotifyWatch* watch, int err, const char* syscall) {
  Napi::HandleScope scope(Napi::Env(watch->env));
  Deliver(watch, watch->onError, ErrnoError(Napi::Env(watch->env), err, syscall).Value());
}

// Receives one datagram; false when there is nothing (more) to read.
bool ReceiveOne(NotifyWatch* watch) {
  char data[kMessageMax];
  alignas(struct cmsghdr) char control[512];
  struct iovec iov = {data, sizeof data};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  int flags = MSG_DONTWAIT;
#if defined(MSG_CMSG_CLOEXEC)
  flags |= MSG_CMSG_CLOEXEC;
#endif
  ssize_t n = recvmsg(watch->fd, &msg, flags);
  if (n < 0) {
    if (errno == EINTR) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK) ReportError(watch, errno, "recvmsg");
    return false;
  }
  Sender sender = ParseControl(&msg);
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) return true;  // over-long: dropped
  Napi::Env env(watch->env);
  Napi::HandleScope scope(env);
  Napi::Object message = Napi::Object::New(env);
  message.Set("pid", Napi::Number::New(env, sender.pid));
  message.Set("uid", Napi::Number::New(env, sender.uid));
  message.Set("gid", Napi::Number::New(env, sender.gid));
  message.Set("text", Napi::String::New(env, data, static_cast<size_t>(n)));
  Deliver(watch, watch->onMessage, message);
  return true;
}

void OnReadable(uv_poll_t* poll, int status, int events) {
  NotifyWatch* watch = static_cast<NotifyWatch*>(poll->data);
  if (watch->closed) return;
  if (status < 0) {
    // The socket cannot be watched any more: an error, and the watch ends.
    ReportError(watch, -status, "uv_poll");
    CloseWatch(watch, false);
    return;
  }
  for (int i = 0; i < kMessagesPerWake && !watch->closed; i++) {
    if (!ReceiveOne(watch)) break;
  }
}

}  // namespace

// openNotifySocket(path) → fd: SOCK_DGRAM, bound at path, credentials on, nonblocking, CLOEXEC.
// The caller owns the path (removes a stale one first, sets its mode and owner).
Napi::Value OpenNotifySocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
#if !defined(IMMORTAL_NOTIFY_CREDS)
  ErrnoError(env, ENOTSUP, "socket", path).ThrowAsJavaScriptException();
  return env.Undefined();
#else
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    ErrnoError(env, path.empty() ? EINVAL : ENAMETOOLONG, "bind", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const char* failed = nullptr;
  if (fd < 0) {
    failed = "socket";
  } else if (EnableCredentials(fd) < 0) {
    failed = "setsockopt";
  } else if (bind(fd, reinterpret_cast<struct sockaddr*>(&address), sizeof address) < 0) {
    failed = "bind";
  }
  if (failed != nullptr) {
    int err = errno;
    if (fd >= 0) close(fd);
    ErrnoError(env, err, failed, path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
#endif
}

// watchNotify(fd, onMessage, onError) → {close()}. onMessage({pid, uid, gid, text}) per
// datagram (pid -1: the kernel attached no sender); onError(err) for a receive or poll error.
// Keeps the loop alive until close(), which must come before the fd is closed.
Napi::Value WatchNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  NotifyWatch* watch = new NotifyWatch();
  int err = uv_poll_init(loop, &watch->poll, fd);
  if (err != 0) {
    delete watch;
    ErrnoError(env, -err, "uv_poll_init").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  watch->poll.data = watch;
  watch->fd = fd;
  watch->env = env;
  watch->onMessage = Napi::Persistent(info[1].As<Napi::Function>());
  watch->onError = Napi::Persistent(info[2].As<Napi::Function>());
  watch->context = std::make_unique<Napi::AsyncContext>(env, "immortal.watchNotify");
  watch->token = std::make_shared<NotifyWatch*>(watch);
  err = uv_poll_start(&watch->poll, UV_READABLE, OnReadable);
  if (err != 0) {
    watch->closed = true;
    watch->onMessage.Reset();
    watch->onError.Reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), FreeWatch);
    ErrnoError(env, -err, "uv_poll_start").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_add_env_cleanup_hook(env, OnCleanup, watch);

  std::shared_ptr<NotifyWatch*> token = watch->token;
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("close", Napi::Function::New(env, [token](const Napi::CallbackInfo& call) {
    if (*token != nullptr) CloseWatch(*token, false);
    return call.Env().Undefined();
  }, "close"));
  return handle;
}

}  // namespace immortal
