// Start-up leaves memory behind that a supervisor, idling for months, never needs again:
// - the C heap's free pages (module loading, compiling, V8's bookkeeping for its first
//   collections), which glibc keeps for reuse, even whole pages in the middle of the heap;
// - the pages of the node binary and its libraries that only start-up read (the snapshot,
//   the bootstrap code, the parser and compiler): mapped once, counted in RSS and PSS for
//   good, and kept from reclaim while mapped.
// Once V8's memory reducer has shrunk the JS heap (it first runs ~8 s after start-up), both
// are given back. What runs again maps its pages back on first touch. Measured:
// docs/performance.md, "Fourth round".

import { trimMalloc, unmapFilePages } from '../native';

/** Long enough for the memory reducer's first rounds; nothing of start-up is still running. */
const afterStartMs = 30_000;

/** Once, afterStartMs from now; the timer never keeps the process alive. */
export function releaseStartupMemoryLater(): void {
  setTimeout(releaseStartupMemory, afterStartMs).unref();
}

function releaseStartupMemory(): void {
  trimMalloc();
  unmapFilePages();
}
