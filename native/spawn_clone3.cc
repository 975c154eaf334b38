// Starting the child directly inside its cgroup: clone3(CLONE_VM | CLONE_VFORK |
// CLONE_INTO_CGROUP), Linux 5.7, cgroup2.
//
// Why: the portable way, the child writing its pid to cgroup.procs, is a cgroup migration,
// and every migration takes the kernel's cgroup_threadgroup_rwsem for writing, which waits
// for an RCU grace period unless another migration happened moments before. For a service
// restarted now and then that is 7-15 ms of wall time on every start (measured on kernel
// 6.18: a vfork child writing cgroup.procs 6.6-11.5 ms, clone3 into the cgroup 2.1-4.8 ms,
// 1.1 s apart), spent while the supervisor waits for the exec. CLONE_INTO_CGROUP places the
// task at fork time under the read side of that lock: no grace period.
//
// glibc has no public clone3 wrapper, and with CLONE_VM the child must start on its own
// stack in a function, which only assembly can do (the raw syscall returns into the
// caller's frame on a stack it does not own). So: a tiny trampoline for x86-64 and aarch64,
// the two architectures we ship; elsewhere (and on older kernels, or when the kernel refuses
// the cgroup) spawn.cc falls back to the write to cgroup.procs.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "spawn.h"

namespace immortal {

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))

namespace {

// struct clone_args of <linux/sched.h> up to `cgroup` (CLONE_ARGS_SIZE_VER2), spelled out:
// older kernel headers lack the field, and newer glibc headers may clash with linux/sched.h.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t childTid;
  uint64_t parentTid;
  uint64_t exitSignal;
  uint64_t stack;
  uint64_t stackSize;
  uint64_t tls;
  uint64_t setTid;
  uint64_t setTidSize;
  uint64_t cgroup;
};
static_assert(sizeof(CloneArgs) == 88, "CLONE_ARGS_SIZE_VER2");

constexpr uint64_t kCloneVm = 0x00000100;
constexpr uint64_t kCloneVfork = 0x00004000;
constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;

// Set once the kernel said it has no clone3 or no CLONE_INTO_CGROUP: no second try.
bool unsupported = false;

}  // namespace

// long immortal_clone3_run(CloneArgs* args, size_t size, int (*fn)(void*), void* arg):
// the parent gets the child's pid or -errno; the child runs fn(arg) on args->stack and
// exits with its result (fn execs or _exits; the exit is a guard).
extern "C" long immortal_clone3_run(CloneArgs* args, size_t size, int (*fn)(void*), void* arg);

#if defined(__x86_64__)
// The kernel keeps every register but rax, rcx and r11 across syscall, in both tasks.
asm(R"(
  .text
  .p2align 4
  .globl immortal_clone3_run
  .hidden immortal_clone3_run
  .type immortal_clone3_run, @function
immortal_clone3_run:
  .cfi_startproc
  movq %rdx, %r9
  movq %rcx, %r8
  movl $435, %eax
  syscall
  testq %rax, %rax
  jz 1f
  ret
1:
  .cfi_undefined rip
  xorl %ebp, %ebp
  andq $-16, %rsp
  movq %r8, %rdi
  callq *%r9
  movq %rax, %rdi
  movl $60, %eax
  syscall
  hlt
  .cfi_endproc
  .size immortal_clone3_run, .-immortal_clone3_run
)");
#elif defined(__aarch64__)
// The kernel keeps every register but x0 across svc, in both tasks.
asm(R"(
  .text
  .p2align 2
  .globl immortal_clone3_run
  .hidden immortal_clone3_run
  .type immortal_clone3_run, %function
immortal_clone3_run:
  mov x9, x2
  mov x10, x3
  mov x8, #435
  svc #0
  cbz x0, 1f
  ret
1:
  mov x29, xzr
  mov x30, xzr
  mov x0, x10
  blr x9
  mov x8, #93
  svc #0
  brk #0
  .size immortal_clone3_run, .-immortal_clone3_run
)");
#endif

pid_t StartChildInCgroup(int (*entry)(void*), void* arg, char* stack, size_t stackSize, int cgroupFd) {
  if (unsupported) {
    errno = ENOSYS;
    return -1;
  }
  CloneArgs args;
  memset(&args, 0, sizeof args);
  args.flags = kCloneVm | kCloneVfork | kCloneIntoCgroup;
  args.exitSignal = SIGCHLD;
  args.stack = reinterpret_cast<uint64_t>(stack);
  args.stackSize = stackSize;
  args.cgroup = static_cast<uint64_t>(cgroupFd);
  long result = immortal_clone3_run(&args, sizeof args, entry, arg);
  if (result >= 0) return static_cast<pid_t>(result);
  // ENOSYS: no clone3 (< 5.3); E2BIG/EINVAL: clone_args without `cgroup` (< 5.7). Other
  // errors (a removed cgroup, a cgroup with controllers in its subtree) are this cgroup's:
  // the fallback's write reports them with the cgroup.procs path.
  if (result == -ENOSYS || result == -E2BIG || result == -EINVAL) unsupported = true;
  errno = static_cast<int>(-result);
  return -1;
}

#else

pid_t StartChildInCgroup(int (*)(void*), void*, char*, size_t, int) {
  errno = ENOSYS;
  return -1;
}

#endif

}  // namespace immortal
