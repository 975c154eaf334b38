// The Node.js flags of a process that supervises: immortal's supervising half, started by
// detach.ts or re-executed in place for -n by cli/immortal.ts. immortaldir carries the same
// on its #! line (cli/immortaldir.ts).
//
// --max-opt=0 keeps V8 to its interpreter: our JavaScript is never compiled to machine code.
// What is hot in a supervisor runs in the addon (the restart, the log copy); the JavaScript
// left runs a few times per event, where optimizing it saves nothing measurable (supervisor
// CPU per restart 2.23 ms against 2.20 with the compilers), while the compilers' memory stays
// for good: their own code mapped from the node binary, the optimized code, their
// bookkeeping. immortaldir with 100 services, PSS once idle: 19.7 MiB with them, 14.9 MiB
// without (docs/performance.md, "Twelfth round").

export const supervisingNodeFlags = ['--max-opt=0'];

/** process.execArgv behind ours: an operator's own flags (node --max-opt=3 …) come later and win. */
export function supervisingExecArgv(): string[] {
  return [...supervisingNodeFlags, ...process.execArgv];
}
