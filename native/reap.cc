// Reaping: reap(pid) for one waitpid(WNOHANG), and watchChildExits(onExit), the supervisor's
// SIGCHLD taken by the addon itself. Every status reaped goes through RestartIfPrepared
// (prepared_restart.cc) before JavaScript sees it: the restart its exit got, or gets now.
//
// Why the watch is here and not process.on('SIGCHLD'): that way the waitpid, and with it a
// prepared restart, came only after Node's signal dispatch and emit into JavaScript, ~0.05 ms
// of cold code at every exit (sched traces, docs/performance.md, ninth round). Here the
// uv_signal callback reaps at once and calls JavaScript once per status, in order: a
// restart's new pid is registered by its exit handler before the next waitpid can collect it.
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <uv.h>

#include <memory>

#include "addon.h"
#include "errors.h"
#include "prepared_restart.h"

namespace immortal {
namespace {

// waitpid(wanted, WNOHANG) as a status object, null when nothing has exited (or no child);
// an empty value with a JS exception pending on a waitpid error.
Napi::Value ReapOne(Napi::Env env, pid_t wanted) {
  int status = 0;
  pid_t pid;
  do {
    pid = waitpid(wanted, &status, WNOHANG);
  } while (pid < 0 && errno == EINTR);
  if (pid < 0 && errno != ECHILD) {
    ErrnoError(env, errno, "waitpid").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  if (pid <= 0) return env.Null();
  // The restart first: the status object can wait, the next child should not.
  RestartOutcome restart = RestartIfPrepared(pid);
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("code", Napi::Number::New(env, WIFEXITED(status) ? WEXITSTATUS(status) : 0));
  result.Set("signal", Napi::Number::New(env, WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  if (restart.restarted > 0) result.Set("restarted", Napi::Number::New(env, restart.restarted));
  if (restart.failure) result.Set("restartError", StartError(env, *restart.failure).Value());
  // When that start began, in ms on process.hrtime()'s clock: the restart thread may have
  // started it well before this reap (the test clock, test/fixtures/spawn-clock-preload.cjs).
  if (restart.calledNs > 0) result.Set("restartedAt", Napi::Number::New(env, restart.calledNs / 1e6));
  return result;
}

// Lives as long as the environment: closed by its cleanup hook.
struct ChildExitWatch {
  uv_signal_t signal;
  napi_env env = nullptr;
  Napi::FunctionReference onExit;
  std::unique_ptr<Napi::AsyncContext> context;
};

void FreeWatch(uv_handle_t* handle) { delete static_cast<ChildExitWatch*>(handle->data); }

void OnCleanup(void* raw) {
  ChildExitWatch* watch = static_cast<ChildExitWatch*>(raw);
  // The environment goes before the loop runs the close callback: drop the references now.
  watch->onExit.Reset();
  watch->context.reset();
  uv_signal_stop(&watch->signal);
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->signal), FreeWatch);
}

// Signals coalesce: one SIGCHLD may stand for many exits, so reap until none is left.
void OnSigchld(uv_signal_t* handle, int) {
  ChildExitWatch* watch = static_cast<ChildExitWatch*>(handle->data);
  Napi::Env env(watch->env);
  for (;;) {
    Napi::HandleScope scope(env);
    Napi::Value status = ReapOne(env, -1);
    if (status.IsEmpty()) {
      // A waitpid error: to 'uncaughtException', as a throw from a SIGCHLD listener was.
      RethrowAsUncaught(env);
      return;
    }
    if (status.IsNull()) return;
    // MakeCallback: nextTicks and microtasks run after, as for Node's own callbacks.
    watch->onExit.Value().MakeCallback(env.Global(), {status}, *watch->context);
    RethrowAsUncaught(env);
  }
}

}  // namespace

// reap(pid): waitpid(pid, WNOHANG): {pid, code, signal} or null when nothing has exited (or
// no child); with "restarted" or "restartError" when a restart was prepared for pid.
Napi::Value Reap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value status = ReapOne(env, static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value()));
  return status.IsEmpty() ? env.Undefined() : status;
}

// watchChildExits(onExit): from now on every SIGCHLD reaps all exited children, calling
// onExit(status) for each as reap() returns it. Does not keep the loop alive. Once per
// process: the caller (src/process/reaper.ts) installs it once.
Napi::Value WatchChildExits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  ChildExitWatch* watch = new ChildExitWatch();
  int err = uv_signal_init(loop, &watch->signal);
  if (err != 0) {
    delete watch;
    ErrnoError(env, -err, "uv_signal_init").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  watch->signal.data = watch;
  watch->env = env;
  watch->onExit = Napi::Persistent(info[0].As<Napi::Function>());
  watch->context = std::make_unique<Napi::AsyncContext>(env, "immortal.watchChildExits");
  err = uv_signal_start(&watch->signal, OnSigchld, SIGCHLD);
  if (err != 0) {
    watch->onExit.Reset();
    watch->context.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->signal), FreeWatch);
    ErrnoError(env, -err, "uv_signal_start").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&watch->signal));
  napi_add_env_cleanup_hook(env, OnCleanup, watch);
  return env.Undefined();
}

}  // namespace immortal
