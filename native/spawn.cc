// fork + exec for every process the supervisor starts.
//
// Everything the child needs (argv, envp, candidate paths, groups) is built before fork:
// between fork and exec the child makes only async-signal-safe calls, because the parent
// is a multi-threaded Node process and any lock (malloc's, stdio's) may be held forever.
// A failure in the child travels back as {stage, errno} on a CLOEXEC pipe, so the caller
// learns ENOENT/EACCES/chdir errors synchronously, and the failed child is reaped here.

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace immortal {
namespace {

enum Stage : int {
  kStageExec,
  kStageChdir,
  kStageSetgroups,
  kStageSetgid,
  kStageSetuid,
  kStageSetsid,
  kStageDup,
};

const char* StageSyscall(int stage) {
  switch (stage) {
    case kStageChdir: return "chdir";
    case kStageSetgroups: return "setgroups";
    case kStageSetgid: return "setgid";
    case kStageSetuid: return "setuid";
    case kStageSetsid: return "setsid";
    case kStageDup: return "dup2";
    default: return "spawn";
  }
}

struct ChildFailure {
  int stage;
  int err;
};

struct SpawnPlan {
  std::string file;
  std::vector<std::string> candidates;  // execvp-style search, resolved in the parent
  std::vector<std::string> argvStore;
  std::vector<std::string> envStore;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string cwd;
  int uid = -1;
  int gid = -1;
  std::vector<gid_t> groups;
  bool newSession = false;
  int umaskValue = -1;
  std::vector<int> stdio;
  bool wantPidfd = false;
};

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

SpawnPlan ReadPlan(const Napi::Object& opts) {
  SpawnPlan plan;
  plan.file = opts.Get("file").As<Napi::String>().Utf8Value();
  plan.candidates = Candidates(plan.file, opts.Get("searchPath").As<Napi::String>().Utf8Value());
  plan.argvStore = StringArray(opts.Get("argv"));
  plan.envStore = StringArray(opts.Get("env"));
  plan.argv = CStringArray(plan.argvStore);
  plan.envp = CStringArray(plan.envStore);
  plan.cwd = opts.Get("cwd").As<Napi::String>().Utf8Value();
  plan.uid = opts.Get("uid").As<Napi::Number>().Int32Value();
  plan.gid = opts.Get("gid").As<Napi::Number>().Int32Value();
  Napi::Array groups = opts.Get("groups").As<Napi::Array>();
  for (uint32_t i = 0; i < groups.Length(); i++) {
    plan.groups.push_back(static_cast<gid_t>(groups.Get(i).As<Napi::Number>().Uint32Value()));
  }
  plan.newSession = opts.Get("setsid").As<Napi::Boolean>().Value();
  plan.umaskValue = opts.Get("umask").As<Napi::Number>().Int32Value();
  Napi::Array stdio = opts.Get("stdio").As<Napi::Array>();
  for (uint32_t i = 0; i < stdio.Length(); i++) {
    plan.stdio.push_back(stdio.Get(i).As<Napi::Number>().Int32Value());
  }
  while (plan.stdio.size() < 3) plan.stdio.push_back(-1);
  plan.wantPidfd = opts.Get("pidfd").As<Napi::Boolean>().Value();
  return plan;
}

// Credential changes in the child go straight to the kernel. glibc's wrappers would run its
// "setxid broadcast" to every thread it believes exists — in a CLONE_VM child those are the
// parent's threads. Raw syscalls change only the calling task, which is exactly the child.
#if defined(__linux__)
#if defined(SYS_setuid32)
#define IMMORTAL_SYS_SETGROUPS SYS_setgroups32
#define IMMORTAL_SYS_SETGID SYS_setgid32
#define IMMORTAL_SYS_SETUID SYS_setuid32
#else
#define IMMORTAL_SYS_SETGROUPS SYS_setgroups
#define IMMORTAL_SYS_SETGID SYS_setgid
#define IMMORTAL_SYS_SETUID SYS_setuid
#endif
int ChildSetgroups(size_t n, const gid_t* groups) { return static_cast<int>(syscall(IMMORTAL_SYS_SETGROUPS, n, groups)); }
int ChildSetgid(gid_t gid) { return static_cast<int>(syscall(IMMORTAL_SYS_SETGID, gid)); }
int ChildSetuid(uid_t uid) { return static_cast<int>(syscall(IMMORTAL_SYS_SETUID, uid)); }
#else
int ChildSetgroups(size_t n, const gid_t* groups) { return setgroups(static_cast<int>(n), groups); }
int ChildSetgid(gid_t gid) { return setgid(gid); }
int ChildSetuid(uid_t uid) { return setuid(uid); }
#endif

[[noreturn]] void ChildFail(int reportFd, int stage, int err) {
  ChildFailure failure{stage, err};
  ssize_t ignored = write(reportFd, &failure, sizeof failure);
  (void)ignored;
  _exit(127);
}

// Runs in the forked child: async-signal-safe calls only, no allocation.
[[noreturn]] void ChildExec(const SpawnPlan& plan, int reportFd, int devNull) {
  // Node ignores SIGPIPE and has handlers installed; a service must start with defaults.
  struct sigaction defaults;
  memset(&defaults, 0, sizeof defaults);
  defaults.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &defaults, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  if (plan.umaskValue >= 0) umask(static_cast<mode_t>(plan.umaskValue));
  if (plan.newSession && setsid() < 0) ChildFail(reportFd, kStageSetsid, errno);

  // Credentials: groups first (needs root), then gid, then uid (after which nothing else can change).
  if (plan.uid >= 0 || plan.gid >= 0) {
    if (ChildSetgroups(plan.groups.size(), plan.groups.empty() ? nullptr : plan.groups.data()) < 0) {
      ChildFail(reportFd, kStageSetgroups, errno);
    }
  }
  if (plan.gid >= 0 && ChildSetgid(static_cast<gid_t>(plan.gid)) < 0) ChildFail(reportFd, kStageSetgid, errno);
  if (plan.uid >= 0 && ChildSetuid(static_cast<uid_t>(plan.uid)) < 0) ChildFail(reportFd, kStageSetuid, errno);
  // After setuid, so the directory is entered with the service's own permissions.
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) < 0) ChildFail(reportFd, kStageChdir, errno);

  // Move every source fd above the target range first so no dup2 clobbers a later source.
  int targets = static_cast<int>(plan.stdio.size());
  reportFd = fcntl(reportFd, F_DUPFD_CLOEXEC, targets);
  if (reportFd < 0) _exit(127);
  int high[64];
  if (targets > 64) ChildFail(reportFd, kStageDup, EMFILE);
  for (int i = 0; i < targets; i++) {
    int source = plan.stdio[i] < 0 ? devNull : plan.stdio[i];
    high[i] = fcntl(source, F_DUPFD_CLOEXEC, targets);
    if (high[i] < 0) ChildFail(reportFd, kStageDup, errno);
  }
  for (int i = 0; i < targets; i++) {
    if (dup2(high[i], i) < 0) ChildFail(reportFd, kStageDup, errno);  // dup2 clears CLOEXEC on i
  }
#if defined(__linux__) && defined(SYS_close_range)
  // Belt and braces against fds some library opened without O_CLOEXEC (Linux >= 5.11).
  syscall(SYS_close_range, targets, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
#endif

  int lastErr = ENOENT;
  bool sawEacces = false;
  for (const std::string& candidate : plan.candidates) {
    execve(candidate.c_str(), plan.argv.data(), plan.envp.data());
    lastErr = errno;
    if (lastErr == EACCES) sawEacces = true;
    if (lastErr != ENOENT && lastErr != ENOTDIR && lastErr != EACCES) break;
  }
  ChildFail(reportFd, kStageExec, sawEacces && lastErr != ENOEXEC ? EACCES : lastErr);
}

struct ChildArgs {
  const SpawnPlan* plan;
  int reportFd;
  int devNull;
};

#if defined(__linux__)
int ChildEntry(void* raw) {
  const ChildArgs* args = static_cast<const ChildArgs*>(raw);
  ChildExec(*args->plan, args->reportFd, args->devNull);
}

// Like vfork: the child borrows our memory until it execs, so no page tables are copied —
// fork() of a Node process costs milliseconds, this costs tens of microseconds. We are
// suspended meanwhile; the child only touches its own stack and reads the plan.
pid_t StartChild(const ChildArgs& args) {
  constexpr size_t kStackSize = 256 * 1024;
  std::vector<char> stack(kStackSize);
  void* top = stack.data() + kStackSize;
  top = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(top) & ~uintptr_t{15});
  return clone(ChildEntry, top, CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<ChildArgs*>(&args));
}
#else
pid_t StartChild(const ChildArgs& args) {
  pid_t pid = fork();
  if (pid == 0) ChildExec(*args.plan, args.reportFd, args.devNull);
  return pid;
}
#endif

// Reads the child's failure report; 0 bytes means exec succeeded (the CLOEXEC end closed).
bool ReadFailure(int fd, ChildFailure* failure) {
  size_t got = 0;
  char* out = reinterpret_cast<char*>(failure);
  while (got < sizeof *failure) {
    ssize_t n = read(fd, out + got, sizeof *failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got == sizeof *failure;
}

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

int OpenPidfd(pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpawnPlan plan = ReadPlan(info[0].As<Napi::Object>());

  int report[2];
  if (PipeCloexec(report) < 0) {
    ErrnoError(env, errno, "pipe2").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int devNull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devNull < 0) {
    int err = errno;
    close(report[0]);
    close(report[1]);
    ErrnoError(env, err, "open", "/dev/null").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // No signal handler of Node's may run in the child before the defaults are restored.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = StartChild(ChildArgs{&plan, report[1], devNull});
  int forkErr = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  close(report[1]);
  close(devNull);

  if (pid < 0) {
    close(report[0]);
    ErrnoError(env, forkErr, "clone").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  ChildFailure failure;
  bool failed = ReadFailure(report[0], &failure);
  close(report[0]);
  if (failed) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string path = failure.stage == kStageChdir ? plan.cwd : plan.file;
    std::string syscallName = failure.stage == kStageExec ? "spawn " + plan.file : StageSyscall(failure.stage);
    ErrnoError(env, failure.err, syscallName.c_str(), path).ThrowAsJavaScriptException();
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
