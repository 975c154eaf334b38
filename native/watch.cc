// watchExit(pid, mode, pollIntervalMs, cb): one callback when pid exits, driven by libuv —
// a uv_poll on the platform exit fd, or a uv_timer running kill(pid, 0) in 'poll' mode.
// A failure of the poll itself calls cb(error) instead: it is not an exit.
// While armed the watcher holds a reference to itself (so GC cannot silently cancel it)
// and keeps the loop alive; close() or the callback releases both.
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <string>

#include "addon.h"
#include "errors.h"
#include "watch.h"

namespace immortal {
namespace {

class ExitWatcher;

// libuv handles must outlive the JS object until uv_close's callback; they live here.
struct WatchHandle {
  union {
    uv_poll_t poll;
    uv_timer_t timer;
    uv_handle_t handle;
  } uv;
  int fd = -1;
  pid_t pid = 0;
  ExitWatcher* owner = nullptr;
};

void FreeHandle(uv_handle_t* handle) {
  WatchHandle* watch = static_cast<WatchHandle*>(handle->data);
  if (watch->fd >= 0) close(watch->fd);
  delete watch;
}

class ExitWatcher : public Napi::ObjectWrap<ExitWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ExitWatcher", {InstanceMethod("close", &ExitWatcher::Close)});
  }

  explicit ExitWatcher(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<ExitWatcher>(info), context_(info.Env(), "immortal.watchExit") {}

  // Only reached with a handle still armed at environment teardown: no Unref then.
  ~ExitWatcher() override { Disarm(false); }

  // Returns false with a pending JS exception when the watch cannot be armed.
  bool Arm(Napi::Env env, pid_t pid, const std::string& mode, uint64_t intervalMs, Napi::Function cb) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    WatchHandle* watch = new WatchHandle();
    watch->pid = pid;
    watch->owner = this;
    if (mode == "poll") {
      if (PidGone(pid)) {
        delete watch;
        ErrnoError(env, ESRCH, "kill").ThrowAsJavaScriptException();
        return false;
      }
      int err = uv_timer_init(loop, &watch->uv.timer);
      if (err != 0) {
        delete watch;
        ErrnoError(env, -err, "uv_timer_init").ThrowAsJavaScriptException();
        return false;
      }
      watch->uv.handle.data = watch;
      err = uv_timer_start(&watch->uv.timer, OnTimer, intervalMs, intervalMs);
      if (err != 0) return Abandon(env, watch, err, "uv_timer_start");
    } else {
      const char* available = ExitFdMode();
      if (available == nullptr || mode != available) {
        delete watch;
        ErrnoError(env, ENOSYS, ("watchExit " + mode).c_str()).ThrowAsJavaScriptException();
        return false;
      }
      watch->fd = OpenExitFd(pid);
      if (watch->fd < 0) {
        int err = errno;
        delete watch;
        ErrnoError(env, err, mode == "pidfd" ? "pidfd_open" : "kevent").ThrowAsJavaScriptException();
        return false;
      }
      int err = uv_poll_init(loop, &watch->uv.poll, watch->fd);
      if (err != 0) {  // nothing registered with the loop yet: no uv_close
        close(watch->fd);
        delete watch;
        ErrnoError(env, -err, "uv_poll_init").ThrowAsJavaScriptException();
        return false;
      }
      watch->uv.handle.data = watch;
      err = uv_poll_start(&watch->uv.poll, UV_READABLE, OnReadable);
      if (err != 0) return Abandon(env, watch, err, "uv_poll_start");
    }
    handle_ = watch;
    callback_ = Napi::Persistent(cb);
    Ref();
    return true;
  }

 private:
  // An initialised handle that failed to start: closed through the loop (which frees it and
  // its fd), and the libuv error thrown.
  static bool Abandon(Napi::Env env, WatchHandle* watch, int err, const char* call) {
    watch->owner = nullptr;
    uv_close(&watch->uv.handle, FreeHandle);
    ErrnoError(env, -err, call).ThrowAsJavaScriptException();
    return false;
  }

  static void OnReadable(uv_poll_t* poll, int status, int events) {
    WatchHandle* watch = static_cast<WatchHandle*>(poll->data);
    if (watch->owner == nullptr) return;
    // A poll error is not an exit: the callback gets it as an error, and the caller decides
    // (native.ts falls back to polling kill(pid, 0)).
    if (status < 0) {
      watch->owner->Fire(-status);
      return;
    }
    DrainExitFd(watch->fd);
    watch->owner->Fire(0);
  }

  static void OnTimer(uv_timer_t* timer) {
    WatchHandle* watch = static_cast<WatchHandle*>(timer->data);
    if (watch->owner != nullptr && PidGone(watch->pid)) watch->owner->Fire(0);
  }

  // err 0: the pid exited, cb(); otherwise cb(error) with the errno-coded error.
  void Fire(int err) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // keeps us alive through the callback once Disarm unrefs
    (void)self;
    Napi::FunctionReference callback = std::move(callback_);
    Disarm(true);
    // MakeCallback: runs nextTicks/microtasks after; a throw goes to 'uncaughtException'.
    if (err == 0) {
      callback.MakeCallback(env.Global(), {}, context_);
    } else {
      Napi::Value error = ErrnoError(env, err, "uv_poll").Value();
      callback.MakeCallback(env.Global(), {error}, context_);
    }
    RethrowAsUncaught(env);
  }

  // Stops the uv handle (freed in its close callback) and drops our self-reference.
  void Disarm(bool unref) {
    if (handle_ == nullptr) return;
    WatchHandle* watch = handle_;
    handle_ = nullptr;
    watch->owner = nullptr;
    uv_close(&watch->uv.handle, FreeHandle);
    if (!callback_.IsEmpty()) callback_.Reset();
    if (unref) Unref();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Disarm(true);
    return info.Env().Undefined();
  }

  WatchHandle* handle_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
};

}  // namespace

Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  std::string mode = info[1].As<Napi::String>().Utf8Value();
  uint64_t intervalMs = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  Napi::Function cb = info[3].As<Napi::Function>();
  if (pid <= 0) {
    ErrnoError(env, EINVAL, "watchExit").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object object = env.GetInstanceData<Napi::FunctionReference>()->New({});
  ExitWatcher* watcher = Napi::ObjectWrap<ExitWatcher>::Unwrap(object);
  if (!watcher->Arm(env, pid, mode, intervalMs < 1 ? 1 : intervalMs, cb)) return env.Undefined();
  return object;
}

Napi::Value WatchModes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array modes = Napi::Array::New(env);
  uint32_t n = 0;
  if (const char* platform = ExitFdMode()) modes.Set(n++, Napi::String::New(env, platform));
  modes.Set(n, Napi::String::New(env, "poll"));
  return modes;
}

void InitExitWatch(Napi::Env env, Napi::Object exports) {
  // Per environment (main thread or worker), freed with it.
  env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(ExitWatcher::Define(env))));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit, "watchExit"));
}

}  // namespace immortal
