// A restart prepared in advance: the service's next start, built while it runs, carried out
// inside reap() the moment its main process is collected — before any JavaScript runs.
//
// Why: between SIGCHLD and the next clone the JavaScript path (the exit's bookkeeping, the
// state machine, the launch options) cost ~0.8 ms on every restart, interpreted and cold:
// restarts come seconds or hours apart, so that code never warms up. Here it is one lookup,
// one read of cgroup.events and the clone. JavaScript decides beforehand that nothing between
// this exit and the next start needs it (src/supervise/prepared-restart.ts), and does its
// bookkeeping after; anything the addon cannot judge (time not yet due, a process left in the
// cgroup, no cgroup.events) leaves the restart to JavaScript, as if none had been prepared.

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "log_copier.h"
#include "prepared_restart.h"
#include "spawn.h"

namespace immortal {
namespace {

struct PreparedRestart {
  // Built in place and never moved: argv and envp point into its strings.
  std::unique_ptr<SpawnPlan> plan = std::make_unique<SpawnPlan>();
  // uv_hrtime(), the clock of performance.now(): not sooner (the 1 s rule, the backoff).
  uint64_t notBeforeNs = 0;
  // The log copiers' endOfRun: the last run's output is ended before the next run writes.
  std::vector<std::function<void()>> endOfRun;
  // cgroup.events, opened when prepared and read again with pread at the exit: no open
  // and close between the exit and the restart. -1: it could not be opened (JS decides).
  int eventsFd = -1;

  ~PreparedRestart() {
    if (plan->cgroupFd >= 0) close(plan->cgroupFd);  // our own copy (PrepareRestart)
    if (eventsFd >= 0) close(eventsFd);
  }
};

// pid → the restart prepared for its exit. The main thread's only, like reap().
std::unordered_map<pid_t, std::unique_ptr<PreparedRestart>>& Prepared() {
  static auto* prepared = new std::unordered_map<pid_t, std::unique_ptr<PreparedRestart>>();
  return *prepared;
}

// cgroup.events says "populated 0": no process is left in the cgroup or below it. Anything
// else (populated 1, no such file, a read error) is not proof, and JavaScript decides.
// A kernfs file reads afresh from offset 0 each time.
bool CgroupEmpty(int eventsFd) {
  if (eventsFd < 0) return false;
  char text[256];
  ssize_t n;
  do {
    n = pread(eventsFd, text, sizeof text - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  text[n] = '\0';
  for (const char* line = text; line != nullptr && *line != '\0';) {
    if (strncmp(line, "populated ", 10) == 0) return line[10] == '0' && (line[11] == '\n' || line[11] == '\0');
    line = strchr(line, '\n');
    if (line != nullptr) line++;
  }
  return false;
}

}  // namespace

// prepareRestart(pid, spawnOptions, waitMs, copiers): replaces one prepared earlier for pid.
// spawnOptions as spawn() takes them, with the service's cgroupFd, which is duplicated: the
// caller closes its own.
Napi::Value PrepareRestart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const pid_t pid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  auto prepared = std::make_unique<PreparedRestart>();
  SpawnPlan* plan = prepared->plan.get();
  const bool read = ReadPlan(env, info[1].As<Napi::Object>(), plan);
  // The caller's fd until duplicated below: never the destructor's to close.
  const int callersCgroupFd = plan->cgroupFd;
  plan->cgroupFd = -1;
  if (!read) return env.Undefined();
  // Without a cgroup nothing here could tell that the last run left no process behind.
  if (callersCgroupFd < 0) {
    ErrnoError(env, EINVAL, "prepareRestart", "cgroupFd").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  plan->cgroupFd = fcntl(callersCgroupFd, F_DUPFD_CLOEXEC, 3);
  if (plan->cgroupFd < 0) {
    ErrnoError(env, errno, "fcntl").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  prepared->eventsFd = openat(plan->cgroupFd, "cgroup.events", O_RDONLY | O_CLOEXEC);
  Napi::Array copiers = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < copiers.Length(); i++) {
    std::function<void()> end = EndOfRunOf(copiers.Get(i));
    if (!end) {
      Napi::TypeError::New(env, "prepareRestart: copiers must be LogCopier objects").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    prepared->endOfRun.push_back(std::move(end));
  }
  const double waitMs = info[2].As<Napi::Number>().DoubleValue();
  // Rounded up: the restart may come a microsecond late, never early.
  prepared->notBeforeNs = uv_hrtime() + (waitMs > 0 ? static_cast<uint64_t>(ceil(waitMs * 1e6)) : 0);
  Prepared()[pid] = std::move(prepared);
  return env.Undefined();
}

// cancelRestart(pid): the state changed; pid's exit goes to JavaScript alone.
Napi::Value CancelRestart(const Napi::CallbackInfo& info) {
  Prepared().erase(static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value()));
  return info.Env().Undefined();
}

RestartOutcome RestartIfPrepared(Napi::Env env, pid_t pid) {
  RestartOutcome outcome;
  auto found = Prepared().find(pid);
  if (found == Prepared().end()) return outcome;
  std::unique_ptr<PreparedRestart> prepared = std::move(found->second);
  Prepared().erase(found);
  if (uv_hrtime() < prepared->notBeforeNs || !CgroupEmpty(prepared->eventsFd)) return outcome;
  for (const std::function<void()>& end : prepared->endOfRun) end();
  // On failure StartPlan sets outcome.error.
  const pid_t child = StartPlan(env, *prepared->plan, &outcome.error);
  if (child > 0) outcome.restarted = child;
  return outcome;
}

}  // namespace immortal
