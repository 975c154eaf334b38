// The spawn plan: everything the forked child needs, built in the parent before fork
// (spawn.cc), and the child side that carries it out (spawn_child.cc).
#pragma once
#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace immortal {

// Where in the child a failure happened; travels back with errno on the report pipe.
enum Stage : int {
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
  int stage;
  int err;
  int detail;  // kStageSetrlimit: index into SpawnPlan::limits
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
  int cgroupProcsFd = -1;           // an open cgroup.procs the child writes its pid to
  std::vector<ChildLimit> limits;   // setrlimit in the child
  std::vector<std::string> limitNames;  // for the error, parallel to limits
  // pidEnv: the child writes its pid here, inside an env entry "NAME=" reserved by the
  // parent with kPidDigits bytes after '=' (the child must not allocate).
  char* pidEnvDigits = nullptr;
};

// Runs in the forked child: async-signal-safe calls only, no allocation. Never returns.
[[noreturn]] void ChildExec(const SpawnPlan& plan, int reportFd, int devNull);

}  // namespace immortal
