// A restart prepared in advance: the service's next start, built while it runs, carried out
// the moment its main process has exited — before any JavaScript runs.
//
// Why: between SIGCHLD and the next clone the JavaScript path (the exit's bookkeeping, the
// state machine, the launch options) cost ~0.8 ms on every restart, interpreted and cold:
// restarts come seconds or hours apart, so that code never warms up. Here it is one lookup,
// one read of cgroup.events and the clone. JavaScript decides beforehand that nothing between
// this exit and the next start needs it (src/supervise/prepared-restart.ts), and does its
// bookkeeping after; anything the addon cannot judge (time not yet due, a process left in the
// cgroup, no cgroup.events) leaves the restart to JavaScript, as if none had been prepared.
//
// Two ways in, whichever comes first, under one lock:
//  - the restart thread (Linux: pidfd_open) waits in poll() on the pidfd of every prepared pid,
//    as the Go original's goroutine waits in wait4, and starts the restart as the process
//    exits: no signal, no event loop, no reap in between (the reap is what the kernel frees
//    the process in, ~0.05 ms), and a main thread busy with JavaScript does not delay it;
//    reap() later finds what was started and reports it.
//  - reap() on the main thread, when it collects a prepared pid first (no pidfd, or sooner).

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include <functional>
#include <memory>
#include <mutex>
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
  // The running pid's pidfd, which the restart thread polls; -1: none, reap() alone restarts.
  int pidfd = -1;

  ~PreparedRestart() {
    if (plan->cgroupFd >= 0) close(plan->cgroupFd);  // our own copy (PrepareRestart)
    if (eventsFd >= 0) close(eventsFd);
    if (pidfd >= 0) close(pidfd);
  }
};

// What the main thread and the restart thread share, all under lock. Allocated once and never
// destroyed: the thread runs until the process ends, past static destructors.
struct Shared {
  std::mutex lock;
  // pid → the restart prepared for its exit.
  std::unordered_map<pid_t, std::unique_ptr<PreparedRestart>> prepared;
  // pid → what the restart thread did for its exit, until reap() collects the pid.
  std::unordered_map<pid_t, RestartOutcome> done;
  // eventfd: the prepared set changed, the thread polls anew. -1 while no thread runs.
  int wakeFd = -1;
  bool threadTried = false;
};

Shared& State() {
  static Shared* shared = new Shared();
  return *shared;
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

// The exit of a prepared pid is certain: its restart, if due and the cgroup is empty. Under
// the lock. Nothing started (outcome empty) leaves the exit to JavaScript.
RestartOutcome CarryOut(const PreparedRestart& prepared) {
  RestartOutcome outcome;
  if (uv_hrtime() < prepared.notBeforeNs || !CgroupEmpty(prepared.eventsFd)) return outcome;
  for (const std::function<void()>& end : prepared.endOfRun) end();
  StartFailure failure;
  outcome.calledNs = uv_hrtime();
  const pid_t child = StartPlan(*prepared.plan, &failure);
  if (child > 0) {
    outcome.restarted = child;
  } else {
    outcome.failure = std::move(failure);
  }
  return outcome;
}

#if defined(__linux__) && defined(SYS_pidfd_open)

// Under the lock, after any change to the prepared set.
void WakeThread(Shared& shared) {
  if (shared.wakeFd < 0) return;
  const uint64_t one = 1;
  ssize_t ignored = write(shared.wakeFd, &one, sizeof one);  // only fails when already due to wake
  (void)ignored;
}

bool Exited(int pidfd) {
  struct pollfd entry = {pidfd, POLLIN, 0};
  return poll(&entry, 1, 0) == 1 && (entry.revents & POLLIN) != 0;
}

void RestartThread(void*) {
  Shared& shared = State();
  std::vector<struct pollfd> fds;
  std::vector<pid_t> pids;
  for (;;) {
    {
      std::lock_guard<std::mutex> hold(shared.lock);
      fds.assign(1, pollfd{shared.wakeFd, POLLIN, 0});
      pids.assign(1, 0);
      for (const auto& [pid, prepared] : shared.prepared) {
        if (prepared->pidfd < 0) continue;
        fds.push_back(pollfd{prepared->pidfd, POLLIN, 0});
        pids.push_back(pid);
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR, ENOMEM: poll again
    if (fds[0].revents != 0) {
      uint64_t count;
      ssize_t ignored = read(shared.wakeFd, &count, sizeof count);
      (void)ignored;
    }
    for (size_t i = 1; i < fds.size(); i++) {
      if (fds[i].revents == 0) continue;
      std::lock_guard<std::mutex> hold(shared.lock);
      // Looked up again: reap() or a cancel may have taken it since, and closed its pidfd,
      // whose number may name another's now.
      auto found = shared.prepared.find(pids[i]);
      if (found == shared.prepared.end() || found->second->pidfd != fds[i].fd || !Exited(fds[i].fd)) continue;
      std::unique_ptr<PreparedRestart> prepared = std::move(found->second);
      shared.prepared.erase(found);
      RestartOutcome outcome = CarryOut(*prepared);
      if (outcome.restarted > 0 || outcome.failure) shared.done.emplace(pids[i], std::move(outcome));
    }
  }
}

// Started with the first prepared restart that has a pidfd; once. Every signal blocked, so
// they all go to the main thread's handlers (and libuv's); a failure to start leaves reap().
// libuv's thread, not pthread_create (a GLIBC_2.34 symbol; the prebuilds promise 2.32), never
// joined: it runs as long as the process.
void StartThread(Shared& shared) {
  if (shared.threadTried) return;
  shared.threadTried = true;
  shared.wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (shared.wakeFd < 0) return;
  uv_thread_options_t options;
  options.flags = UV_THREAD_HAS_STACK_SIZE;
  options.stack_size = 256 * 1024;  // poll() and StartPlan(); the child runs on a stack of its own
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  uv_thread_t thread;
  const int err = uv_thread_create_ex(&thread, &options, RestartThread, nullptr);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (err != 0) {
    close(shared.wakeFd);
    shared.wakeFd = -1;
  }
}

int PidfdOf(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

#else

// No pidfd: reap() alone carries out prepared restarts.
void WakeThread(Shared&) {}
void StartThread(Shared&) {}
int PidfdOf(pid_t) { return -1; }

#endif

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
  // Without it (an old kernel; pid already reaped) only reap() restarts: slower, the same.
  prepared->pidfd = PidfdOf(pid);
  Shared& shared = State();
  std::lock_guard<std::mutex> hold(shared.lock);
  if (prepared->pidfd >= 0) StartThread(shared);
  shared.prepared[pid] = std::move(prepared);
  WakeThread(shared);
  return env.Undefined();
}

// cancelRestart(pid): the state changed; pid's exit goes to JavaScript alone. Too late when
// the restart thread has started it already: reap() then reports that restart, and the state
// machine stops what it did not want (src/supervise/machine.ts, strayRestart).
Napi::Value CancelRestart(const Napi::CallbackInfo& info) {
  const pid_t pid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  Shared& shared = State();
  std::lock_guard<std::mutex> hold(shared.lock);
  if (shared.prepared.erase(pid) > 0) WakeThread(shared);
  return info.Env().Undefined();
}

RestartOutcome RestartIfPrepared(pid_t pid) {
  Shared& shared = State();
  std::lock_guard<std::mutex> hold(shared.lock);
  auto done = shared.done.find(pid);
  if (done != shared.done.end()) {
    RestartOutcome outcome = std::move(done->second);
    shared.done.erase(done);
    return outcome;
  }
  auto found = shared.prepared.find(pid);
  if (found == shared.prepared.end()) return RestartOutcome();
  std::unique_ptr<PreparedRestart> prepared = std::move(found->second);
  shared.prepared.erase(found);
  WakeThread(shared);
  return CarryOut(*prepared);
}

}  // namespace immortal
