// The forked child's side of spawn: from fork to execve, only async-signal-safe calls.
//
// The parent is a multi-threaded Node process: any lock (malloc's, stdio's) may be held
// forever in the child, and on Linux the child even shares the parent's memory until it
// execs (clone(CLONE_VM|CLONE_VFORK)). So nothing here allocates or locks: everything was
// prepared in SpawnPlan, and every failure is reported as {stage, errno} (FailureReport,
// spawn.h) before _exit(127), so spawn() throws instead of returning a pid that never ran.
//
// Order, and why:
//   0. SCHED_OTHER back, if the parent stepped aside while we start (step_aside.cc): the
//      service runs under the policy the supervisor had, from its first step;
//   1. signal dispositions and mask back to defaults (Node's handlers must never run here);
//   2. join the cgroup, unless clone3 started us in it (first: the service is accounted and
//      contained from its first step, and the cgroup.procs fd may be one that the fd shuffle
//      below overwrites);
//   3. umask, setsid;
//   4. the fd shuffle: stdio[i] becomes fd i (also fd 3, 4… for passed sockets);
//   5. rlimits, still as root: like systemd, a hard limit can then be raised above ours,
//      and limits survive setuid — applied after it, an unprivileged service could not raise
//      nofile's hard limit at all;
//   6. credentials (groups, gid, uid), then chdir with the service's own permissions;
//   7. the pid env entry (LISTEN_PID=<own pid>), then execve along the search path.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "spawn.h"
#include "step_aside.h"

namespace immortal {
namespace {

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
// The kernel's answer, not a libc cache (old glibc cached getpid, wrong after a raw clone).
pid_t ChildPid() { return static_cast<pid_t>(syscall(SYS_getpid)); }
#else
int ChildSetgroups(size_t n, const gid_t* groups) { return setgroups(static_cast<int>(n), groups); }
int ChildSetgid(gid_t gid) { return setgid(gid); }
int ChildSetuid(uid_t uid) { return setuid(uid); }
pid_t ChildPid() { return getpid(); }
#endif

// Most stdio entries a child can get; the parent refuses more (spawn.cc), so the stack
// array below always fits.
constexpr int kMaxTargets = 256;

[[noreturn]] void ChildFail(const FailureReport& report, int stage, int err, int detail = 0) {
  ChildFailure failure;
  failure.stage = stage;
  failure.err = err;
  failure.detail = detail;
  if (report.shared != nullptr) {
    // Read by the parent after our _exit releases it from the vfork wait.
    *report.shared = failure;
  } else {
    ssize_t ignored = write(report.fd, &failure, sizeof failure);
    (void)ignored;
  }
  _exit(127);
}

// Decimal digits of pid into out (at least kPidDigits bytes), NUL-terminated; returns the length.
size_t FormatPid(pid_t pid, char* out) {
  char reversed[kPidDigits];
  size_t n = 0;
  unsigned long value = static_cast<unsigned long>(pid);
  do {
    reversed[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && n < kPidDigits - 1);
  for (size_t i = 0; i < n; i++) out[i] = reversed[n - 1 - i];
  out[n] = '\0';
  return n;
}

void ResetSignals() {
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
}

// Writing a pid to cgroup.procs moves that process (cgroup v1 and v2). One write of the
// digits: the kernel parses the whole buffer, a short write would be an error of its own.
void JoinCgroup(int procsFd, const FailureReport& report) {
  char digits[kPidDigits];
  size_t n = FormatPid(ChildPid(), digits);
  ssize_t written;
  do {
    written = write(procsFd, digits, n);
  } while (written < 0 && errno == EINTR);
  if (written < 0) ChildFail(report, kStageCgroup, errno);
  if (static_cast<size_t>(written) != n) ChildFail(report, kStageCgroup, EIO);
}

// stdio[i] becomes fd i. Every source is first copied above the target range, so no dup2
// can clobber a source still to be used (source 4 → 3 and source 3 → 4 both work).
// A report pipe is moved above the targets as well; the report, so changed, is returned.
FailureReport MapFds(const SpawnPlan& plan, FailureReport report, int devNull) {
  int targets = static_cast<int>(plan.stdio.size());
  if (report.fd >= 0) {
    int movedReport = fcntl(report.fd, F_DUPFD_CLOEXEC, targets);
    if (movedReport < 0) ChildFail(report, kStageDup, errno);  // the original is still intact
    report.fd = movedReport;
  }
  int high[kMaxTargets];
  for (int i = 0; i < targets; i++) {
    int source = plan.stdio[i] < 0 ? devNull : plan.stdio[i];
    high[i] = fcntl(source, F_DUPFD_CLOEXEC, targets);
    if (high[i] < 0) ChildFail(report, kStageDup, errno);
  }
  for (int i = 0; i < targets; i++) {
    if (dup2(high[i], i) < 0) ChildFail(report, kStageDup, errno);  // dup2 clears CLOEXEC on i
  }
#if defined(__linux__) && defined(SYS_close_range)
  // Belt and braces against fds some library opened without O_CLOEXEC (Linux >= 5.11).
  syscall(SYS_close_range, targets, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
#endif
  return report;
}

void ApplyLimits(const SpawnPlan& plan, const FailureReport& report) {
  for (size_t i = 0; i < plan.limits.size(); i++) {
    struct rlimit value;
    value.rlim_cur = plan.limits[i].soft;
    value.rlim_max = plan.limits[i].hard;
    // setrlimit is one system call in every libc (prlimit64 in glibc): no lock, no allocation.
    if (setrlimit(plan.limits[i].resource, &value) < 0) {
      ChildFail(report, kStageSetrlimit, errno, static_cast<int>(i));
    }
  }
}

void ChangeCredentials(const SpawnPlan& plan, const FailureReport& report) {
  // Groups first (needs root), then gid, then uid (after which nothing else can change).
  if (plan.uid >= 0 || plan.gid >= 0) {
    if (ChildSetgroups(plan.groups.size(), plan.groups.empty() ? nullptr : plan.groups.data()) < 0) {
      ChildFail(report, kStageSetgroups, errno);
    }
  }
  if (plan.gid >= 0 && ChildSetgid(static_cast<gid_t>(plan.gid)) < 0) ChildFail(report, kStageSetgid, errno);
  if (plan.uid >= 0 && ChildSetuid(static_cast<uid_t>(plan.uid)) < 0) ChildFail(report, kStageSetuid, errno);
}

}  // namespace

const char* StageSyscall(int stage) {
  switch (stage) {
    case kStageExec: return "exec";
    case kStageChdir: return "chdir";
    case kStageSetgroups: return "setgroups";
    case kStageSetgid: return "setgid";
    case kStageSetuid: return "setuid";
    case kStageSetsid: return "setsid";
    case kStageDup: return "dup2";
    case kStageCgroup: return "cgroup";
    case kStageSetrlimit: return "setrlimit";
    default: return "spawn";
  }
}

[[noreturn]] void ChildExec(const SpawnPlan& plan, FailureReport report, int devNull, int cgroupProcsFd, bool stepBack) {
  if (stepBack) ChildStepBack();
  ResetSignals();
  if (cgroupProcsFd >= 0) JoinCgroup(cgroupProcsFd, report);
  if (plan.umaskValue >= 0) umask(static_cast<mode_t>(plan.umaskValue));
  if (plan.newSession && setsid() < 0) ChildFail(report, kStageSetsid, errno);
  report = MapFds(plan, report, devNull);
  ApplyLimits(plan, report);
  ChangeCredentials(plan, report);
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) < 0) ChildFail(report, kStageChdir, errno);
  // Written into the parent's reserved env entry: with CLONE_VM that is the parent's memory,
  // which it never reads again; with fork() it is our own copy.
  if (plan.pidEnvDigits != nullptr) FormatPid(ChildPid(), plan.pidEnvDigits);

  int lastErr = ENOENT;
  bool sawEacces = false;
  for (const std::string& candidate : plan.candidates) {
    execve(candidate.c_str(), plan.argv.data(), plan.envp.data());
    lastErr = errno;
    if (lastErr == EACCES) sawEacces = true;
    if (lastErr != ENOENT && lastErr != ENOTDIR && lastErr != EACCES) break;
  }
  ChildFail(report, kStageExec, sawEacces && lastErr != ENOEXEC ? EACCES : lastErr);
}

}  // namespace immortal
