// While a child starts, the supervisor steps aside: see step_aside.cc.
#pragma once

namespace immortal {

// From construction (just before the clone) until End() (once the child has exec'd) the
// calling thread runs SCHED_BATCH, if it ran SCHED_OTHER; otherwise this does nothing.
class StepAside {
 public:
  StepAside();
  ~StepAside() { End(); }
  StepAside(const StepAside&) = delete;
  StepAside& operator=(const StepAside&) = delete;

  // Whether the child must take SCHED_OTHER back (ChildStepBack): it inherited SCHED_BATCH.
  bool active() const { return active_; }
  // Back to SCHED_OTHER; once.
  void End();

 private:
  bool active_ = false;
};

// In the forked child, async-signal-safe: SCHED_OTHER again, the policy the supervisor had.
void ChildStepBack();

}  // namespace immortal
