// The spawn plan: everything the forked child needs, built in the parent before fork
// (spawn.cc), and the child side that carries it out (spawn_child.cc).
#pragma once
#include <sys/resource.h>
#include <sys/types.h>

#include <napi.h>

#include <string>
#include <vector>

namespace immortal {

// Where in the child a failure happened; travels back with errno (FailureReport).
enum Stage : int {
  kStageNone = -1,  // no failure reported
  kStageExec,
  kStageChdir,
  kStageSetgroups,
  kStageSetgid,
  kStageSetuid,
  kStageSetsid,
  kStageDup,
  kStageCgroup,
  kStageSetrlimit,
};

// The syscall named in the error for a stage ("dup2", "setrlimit", "cgroup"...).
const char* StageSyscall(int stage);

struct ChildFailure {
  int stage = kStageNone;
  int err = 0;
  int detail = 0;  // kStageSetrlimit: index into SpawnPlan::limits
};

// How a failure in the child reaches the parent. A child that shares our memory until it
// execs (Linux: CLONE_VM | CLONE_VFORK) writes it into *shared, which we read once the clone
// returns, as glibc's posix_spawn does: no pipe to make and close on every start. A forked
// child (elsewhere) writes it to fd, a CLOEXEC pipe that a successful exec closes unwritten.
struct FailureReport {
  ChildFailure* shared = nullptr;
  int fd = -1;
};

struct ChildLimit {
  int resource;  // RLIMIT_*
  rlim_t soft;
  rlim_t hard;
};

// Largest pid in decimal plus the NUL: pid_t is 32 bits.
constexpr size_t kPidDigits = 11;

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
  int cgroupFd = -1;                // the service's cgroup directory: the child starts in it
  std::vector<ChildLimit> limits;   // setrlimit in the child
  std::vector<std::string> limitNames;  // for the error, parallel to limits
  // pidEnv: the child writes its pid here, inside an env entry "NAME=" reserved by the
  // parent with kPidDigits bytes after '=' (the child must not allocate).
  char* pidEnvDigits = nullptr;
};

// The options object of spawn() (checked in src/native.ts) → plan; false with a JS
// exception pending when it cannot be one.
bool ReadPlan(Napi::Env env, const Napi::Object& opts, SpawnPlan* plan);

// Why a start failed, as plain data: the restart thread (prepared_restart.cc) has no JS
// environment; StartError() makes of it what spawn() throws.
struct StartFailure {
  int err = 0;
  std::string syscall;          // "clone", "pipe2", "spawn FILE", "chdir"...
  std::string path;             // the file, directory, limit or cgroup file concerned; may be empty
  const char* stage = nullptr;  // where in the child ("exec", "cgroup"...), or none
};

// Starts the plan's child and waits until it has exec'd: its pid, or -1 with *failure set
// (the failed child reaped). A plan can be started again and again. Any thread may call it;
// the calling thread is the one the vfork-like clone suspends.
pid_t StartPlan(const SpawnPlan& plan, StartFailure* failure);

// The error spawn() throws for failure: message, code, errno, syscall, path, and stage.
Napi::Error StartError(Napi::Env env, const StartFailure& failure);

// Runs in the forked child: async-signal-safe calls only, no allocation. Never returns.
// cgroupProcsFd >= 0: the child first joins that cgroup by writing its pid there.
// stepBack: the parent stepped aside (step_aside.h); the child takes SCHED_OTHER back.
[[noreturn]] void ChildExec(const SpawnPlan& plan, FailureReport report, int devNull, int cgroupProcsFd, bool stepBack);

// clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP) running entry(arg) on the given stack
// (spawn_clone3.cc) → the child's pid, or -1 with errno where it cannot be done (ENOSYS:
// not this kernel or architecture; then the caller starts the child the portable way).
pid_t StartChildInCgroup(int (*entry)(void*), void* arg, char* stack, size_t stackSize, int cgroupFd);

// pipe2(O_CLOEXEC), or pipe + FD_CLOEXEC where there is no pipe2 (macOS): -1 and errno on failure.
int PipeCloexec(int fds[2]);

}  // namespace immortal
