// While a child starts, the supervisor steps aside: the main thread runs SCHED_BATCH from
// just before the clone until the child has exec'd, and the child takes SCHED_OTHER back
// as its first step (spawn_child.cc), so the service never runs under a policy it was not
// given.
//
// Why: the child is created on our CPU and wakes us on its way to exec (the vfork release).
// As SCHED_OTHER that wake-up preempted the child on that CPU, and after a restart the
// JavaScript bookkeeping (~0.9 ms of cold code) then ran while the child waited, the other
// CPU idle: sched traces of kill -9 → the new process's first write, docs/performance.md,
// ninth round. A SCHED_BATCH task does not preempt on wake-up: the child goes on, and we
// run when it blocks, when its slice ends, or when an idle CPU takes us. The child's
// start-up is the service's; the bookkeeping can wait for it.
//
// Only from SCHED_OTHER exactly (no SCHED_RESET_ON_FORK): a policy the operator chose for
// the supervisor (chrt) is left alone, and its children inherit it as before. Switching
// between SCHED_OTHER and SCHED_BATCH keeps the nice value and needs no privilege.
// Elsewhere than Linux there is no SCHED_BATCH, and nothing changes.
#include "step_aside.h"

#include <sched.h>

namespace immortal {

#if defined(__linux__) && defined(SCHED_BATCH)

namespace {

bool SetPolicy(int policy) {
  struct sched_param param = {};
  return sched_setscheduler(0, policy, &param) == 0;
}

}  // namespace

StepAside::StepAside() {
  active_ = sched_getscheduler(0) == SCHED_OTHER && SetPolicy(SCHED_BATCH);
}

void StepAside::End() {
  if (!active_) return;
  active_ = false;
  SetPolicy(SCHED_OTHER);
}

void ChildStepBack() {
  // A plain system call: no lock, no allocation.
  SetPolicy(SCHED_OTHER);
}

#else

StepAside::StepAside() {}

void StepAside::End() {}

void ChildStepBack() {}

#endif

}  // namespace immortal
