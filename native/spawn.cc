// fork + exec for every process the supervisor starts: the parent's side.
//
// Everything the child needs (argv, envp, candidate paths, groups, limits, the reserved
// pid env entry) is built here before fork into a SpawnPlan; spawn_child.cc is what the
// child does with it, async-signal-safe only. A failure in the child travels back as
// {stage, errno} (FailureReport, spawn.h), so the caller learns ENOENT/EACCES/chdir/
// setrlimit/cgroup errors synchronously, and the failed child is reaped here.

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "limits.h"
#include "spawn.h"
#include "step_aside.h"

namespace immortal {
namespace {

// The child maps stdio into a fixed stack array (spawn_child.cc); refuse more up front.
constexpr uint32_t kMaxStdio = 256;

std::vector<std::string> StringArray(const Napi::Value& value) {
  std::vector<std::string> out;
  Napi::Array array = value.As<Napi::Array>();
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    out.push_back(array.Get(i).As<Napi::String>().Utf8Value());
  }
  return out;
}

std::vector<char*> CStringArray(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

// Like execvp: a name with a '/' is used as is; otherwise each PATH entry is tried in order
// (an empty entry means the current directory).
std::vector<std::string> Candidates(const std::string& file, const std::string& searchPath) {
  if (file.find('/') != std::string::npos) return {file};
  std::vector<std::string> out;
  std::string path = searchPath.empty() ? "/usr/local/bin:/usr/bin:/bin" : searchPath;
  size_t start = 0;
  while (true) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + file);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// -1 is RLIM_INFINITY; anything else must be a non-negative integer.
bool LimitValue(const Napi::Value& value, rlim_t* out) {
  if (!value.IsNumber()) return false;
  double number = value.As<Napi::Number>().DoubleValue();
  if (number == -1) {
    *out = RLIM_INFINITY;
    return true;
  }
  if (!(number >= 0) || number != floor(number) || number > 9007199254740991.0) return false;
  *out = static_cast<rlim_t>(number);
  return true;
}

// Returns false with a pending JS exception on an option the child could not apply.
bool ReadLimits(Napi::Env env, const Napi::Value& value, SpawnPlan* plan) {
  if (value.IsUndefined() || value.IsNull()) return true;
  Napi::Array limits = value.As<Napi::Array>();
  for (uint32_t i = 0; i < limits.Length(); i++) {
    Napi::Object entry = limits.Get(i).As<Napi::Object>();
    std::string name = entry.Get("resource").As<Napi::String>().Utf8Value();
    ChildLimit limit;
    if (!RlimitByName(name, &limit.resource)) {
      ErrnoError(env, EINVAL, "setrlimit", name).ThrowAsJavaScriptException();
      return false;
    }
    if (!LimitValue(entry.Get("soft"), &limit.soft) || !LimitValue(entry.Get("hard"), &limit.hard)) {
      ErrnoError(env, EINVAL, "setrlimit", name).ThrowAsJavaScriptException();
      return false;
    }
    plan->limits.push_back(limit);
    plan->limitNames.push_back(name);
  }
  return true;
}

// The environment, with NAME= for pidEnv (replacing any given) reserved at the end: the
// child writes its pid's digits into that entry without allocating.
bool ReadEnvironment(Napi::Env env, const Napi::Object& opts, SpawnPlan* plan) {
  plan->envStore = StringArray(opts.Get("env"));
  std::string pidEnv = opts.Has("pidEnv") && opts.Get("pidEnv").IsString()
                           ? opts.Get("pidEnv").As<Napi::String>().Utf8Value() : "";
  if (!pidEnv.empty()) {
    if (pidEnv.find('=') != std::string::npos) {
      ErrnoError(env, EINVAL, "spawn", "pidEnv " + pidEnv).ThrowAsJavaScriptException();
      return false;
    }
    std::string prefix = pidEnv + "=";
    std::vector<std::string> kept;
    for (std::string& entry : plan->envStore) {
      if (entry.compare(0, prefix.size(), prefix) != 0) kept.push_back(std::move(entry));
    }
    kept.push_back(prefix + std::string(kPidDigits, '0'));
    plan->envStore = std::move(kept);
  }
  plan->envp = CStringArray(plan->envStore);  // envStore is final: its buffers stay put
  if (!pidEnv.empty()) plan->pidEnvDigits = &plan->envStore.back()[pidEnv.size() + 1];
  return true;
}

}  // namespace

bool ReadPlan(Napi::Env env, const Napi::Object& opts, SpawnPlan* plan) {
  plan->file = opts.Get("file").As<Napi::String>().Utf8Value();
  plan->candidates = Candidates(plan->file, opts.Get("searchPath").As<Napi::String>().Utf8Value());
  plan->argvStore = StringArray(opts.Get("argv"));
  plan->argv = CStringArray(plan->argvStore);
  if (!ReadEnvironment(env, opts, plan)) return false;
  plan->cwd = opts.Get("cwd").As<Napi::String>().Utf8Value();
  plan->uid = opts.Get("uid").As<Napi::Number>().Int32Value();
  plan->gid = opts.Get("gid").As<Napi::Number>().Int32Value();
  Napi::Array groups = opts.Get("groups").As<Napi::Array>();
  for (uint32_t i = 0; i < groups.Length(); i++) {
    plan->groups.push_back(static_cast<gid_t>(groups.Get(i).As<Napi::Number>().Uint32Value()));
  }
  plan->newSession = opts.Get("setsid").As<Napi::Boolean>().Value();
  plan->umaskValue = opts.Get("umask").As<Napi::Number>().Int32Value();
  Napi::Array stdio = opts.Get("stdio").As<Napi::Array>();
  if (stdio.Length() > kMaxStdio) {
    ErrnoError(env, EMFILE, "spawn", plan->file).ThrowAsJavaScriptException();
    return false;
  }
  for (uint32_t i = 0; i < stdio.Length(); i++) {
    plan->stdio.push_back(stdio.Get(i).As<Napi::Number>().Int32Value());
  }
  while (plan->stdio.size() < 3) plan->stdio.push_back(-1);
  plan->wantPidfd = opts.Get("pidfd").As<Napi::Boolean>().Value();
  Napi::Value cgroup = opts.Get("cgroupFd");
  plan->cgroupFd = cgroup.IsNumber() ? cgroup.As<Napi::Number>().Int32Value() : -1;
  return ReadLimits(env, opts.Get("rlimits"), plan);
}

namespace {

struct ChildArgs {
  const SpawnPlan* plan;
  FailureReport report;
  int devNull;
  int cgroupProcsFd;  // -1 when the child was started inside its cgroup
  bool stepBack;      // the child inherited SCHED_BATCH from StepAside
};

[[noreturn]] void RunChild(const ChildArgs& args) {
  ChildExec(*args.plan, args.report, args.devNull, args.cgroupProcsFd, args.stepBack);
}

#if defined(__linux__)
int ChildEntry(void* raw) {
  RunChild(*static_cast<const ChildArgs*>(raw));
}

// Like vfork: the child borrows our memory until it execs, so no page tables are copied —
// fork() of a Node process costs milliseconds, this costs tens of microseconds. We are
// suspended meanwhile; the child runs on a stack of its own, reads the plan, and writes
// only its failure, if any (FailureReport::shared).
class ChildStarter {
 public:
  static constexpr bool kSharesMemory = true;

  // Inside the cgroup from the start (spawn_clone3.cc); -1 with errno when that cannot be.
  pid_t StartInCgroup(ChildArgs* args, int cgroupFd) {
    return StartChildInCgroup(ChildEntry, args, Stack(), kStackSize, cgroupFd);
  }

  pid_t Start(ChildArgs* args) {
    void* top = Stack() + kStackSize;
    top = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(top) & ~uintptr_t{15});
    return clone(ChildEntry, top, CLONE_VM | CLONE_VFORK | SIGCHLD, args);
  }

 private:
  static constexpr size_t kStackSize = 256 * 1024;

  // One stack per thread that starts children (the main thread, the restart thread), made
  // once and kept: the thread is suspended while its child runs on it, so it is never in
  // use twice. A new zero-filled one per start cost ~30 µs between an exit and the restart.
  // Not zero-filled: only the pages the child touches (a few) become resident.
  static char* Stack() {
    thread_local std::unique_ptr<char[]> stack;
    if (!stack) stack.reset(new char[kStackSize]);
    return stack.get();
  }
};
#else
class ChildStarter {
 public:
  static constexpr bool kSharesMemory = false;

  pid_t StartInCgroup(ChildArgs*, int) {
    errno = ENOSYS;
    return -1;
  }

  pid_t Start(ChildArgs* args) {
    pid_t pid = fork();
    if (pid == 0) RunChild(*args);
    return pid;
  }
};
#endif

// Reads the child's failure report; 0 bytes means exec succeeded (the CLOEXEC end closed).
// A report cut short (or unreadable) still means the child failed: never a pid that did not run.
bool ReadFailure(int fd, ChildFailure* failure) {
  size_t got = 0;
  char* out = reinterpret_cast<char*>(failure);
  while (got < sizeof *failure) {
    ssize_t n = read(fd, out + got, sizeof *failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *failure = ChildFailure{kStageExec, errno, 0};
      return true;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > 0 && got < sizeof *failure) *failure = ChildFailure{kStageExec, EIO, 0};
  return got > 0;
}


// The character device fd names, or -1. statx on Linux: fstat is a GLIBC_2.33 symbol there,
// and the prebuilds promise glibc 2.32 (scripts/check-prebuilds.mjs).
int64_t CharDevice(int fd) {
#if defined(__linux__)
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &sx) != 0 || !S_ISCHR(sx.stx_mode)) return -1;
  return (static_cast<int64_t>(sx.stx_rdev_major) << 32) | sx.stx_rdev_minor;
#else
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_rdev);
#endif
}

// /dev/null for the stdio entries a plan leaves empty: opened once and kept (CLOEXEC; the
// child dups it), not at every start: one open less between an exit and the restart. Its
// device number proves the fd still names it (a stray close elsewhere must never hand a
// service some other file as its stdin); otherwise it is opened again. Under a lock: the
// restart thread starts children too (prepared_restart.cc). -1 with errno when it cannot be opened.
int DevNull() {
  static std::mutex* lock = new std::mutex();  // never destroyed: a thread may spawn during exit
  std::lock_guard<std::mutex> hold(*lock);
  static int fd = -1;
  static int64_t device = -1;
  if (fd >= 0 && device >= 0 && CharDevice(fd) == device) return fd;
  fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd >= 0) device = CharDevice(fd);
  return fd;
}

int OpenPidfd(pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

// pipe2 is not on macOS; there the CLOEXEC flag is set right after (we hold no other thread's fork).
int PipeCloexec(int fds[2]) {
#if defined(__APPLE__)
  if (pipe(fds) < 0) return -1;
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  return 0;
#else
  return pipe2(fds, O_CLOEXEC);
#endif
}

pid_t StartPlan(const SpawnPlan& plan, StartFailure* failure) {
  ChildFailure child;  // stage kStageNone until a failing child writes one
  FailureReport report;
  int reportRead = -1;
  if (ChildStarter::kSharesMemory) {
    report.shared = &child;
  } else {
    int fds[2];
    if (PipeCloexec(fds) < 0) {
      *failure = StartFailure{errno, "pipe2", "", nullptr};
      return -1;
    }
    reportRead = fds[0];
    report.fd = fds[1];
  }
  // Both ends, whatever happened (-1: none).
  auto closeReport = [&]() {
    for (int* fd : {&reportRead, &report.fd}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  };
  int devNull = DevNull();
  if (devNull < 0) {
    int err = errno;
    closeReport();
    *failure = StartFailure{err, "open", "/dev/null", nullptr};
    return -1;
  }

  // No signal handler of Node's may run in the child before the defaults are restored.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  // Until the child has exec'd, its start-up comes before ours (step_aside.cc).
  StepAside stepAside;
  ChildStarter starter;
  ChildArgs args{&plan, report, devNull, -1, stepAside.active()};
  pid_t pid = plan.cgroupFd >= 0 ? starter.StartInCgroup(&args, plan.cgroupFd) : -1;
  int startErr = 0;
  bool procsUnopened = false;
  if (pid < 0 && plan.cgroupFd >= 0) {
    // No clone3 into the cgroup here: the child joins by writing its pid, as on cgroup v1.
    args.cgroupProcsFd = openat(plan.cgroupFd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (args.cgroupProcsFd < 0) {
      startErr = errno;
      procsUnopened = true;
    }
  }
  if (pid < 0 && !procsUnopened) {
    pid = starter.Start(&args);
    if (pid < 0) startErr = errno;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (report.fd >= 0) close(report.fd);
  report.fd = -1;
  if (args.cgroupProcsFd >= 0) close(args.cgroupProcsFd);

  if (pid < 0) {
    closeReport();
    const char* cgroup = StageSyscall(kStageCgroup);
    *failure = procsUnopened ? StartFailure{startErr, cgroup, "cgroup.procs", cgroup} : StartFailure{startErr, "clone", "", nullptr};
    return -1;
  }

  bool failed = report.shared != nullptr ? child.stage != kStageNone : ReadFailure(reportRead, &child);
  closeReport();
  stepAside.End();
  if (!failed) return pid;
  // Called from the restart thread, the main thread's reap(-1) may collect the failed child
  // first: ECHILD here, and the reaper counts it as an orphan. Nothing is left either way.
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string path = child.stage == kStageChdir ? plan.cwd : plan.file;
  if (child.stage == kStageCgroup) path = "cgroup.procs";
  if (child.stage == kStageSetrlimit && child.detail >= 0 &&
      static_cast<size_t>(child.detail) < plan.limitNames.size()) {
    path = plan.limitNames[static_cast<size_t>(child.detail)];
  }
  std::string syscallName = child.stage == kStageExec ? "spawn " + plan.file : StageSyscall(child.stage);
  *failure = StartFailure{child.err, syscallName, path, StageSyscall(child.stage)};  // stage: where in the child
  return -1;
}

Napi::Error StartError(Napi::Env env, const StartFailure& failure) {
  Napi::Error error = ErrnoError(env, failure.err, failure.syscall.c_str(), failure.path);
  if (failure.stage != nullptr) error.Set("stage", Napi::String::New(env, failure.stage));
  return error;
}

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpawnPlan plan;
  if (!ReadPlan(env, info[0].As<Napi::Object>(), &plan)) return env.Undefined();
  StartFailure failure;
  pid_t pid = StartPlan(plan, &failure);
  if (pid < 0) {
    StartError(env, failure).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("pidfd", Napi::Number::New(env, plan.wantPidfd ? OpenPidfd(pid) : -1));
  return result;
}

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (PipeCloexec(fds) < 0) {
    ErrnoError(env, errno, "pipe2").ThrowAsJavaScriptException();
    return env.Undefined();
  }
#if defined(__linux__) && defined(F_SETPIPE_SZ)
  // Log pipes: 1 MiB instead of 64 KiB means 16x fewer wake-ups per byte logged. Best
  // effort: an unprivileged user above /proc/sys/fs/pipe-max-size keeps the default.
  fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
#endif
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

}  // namespace immortal
