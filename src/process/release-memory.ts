// Start-up leaves memory behind that a supervisor, idling for months, never needs again:
// - the C heap's free pages (module loading, compiling, V8's bookkeeping for its first
//   collections), which glibc keeps for reuse, even whole pages in the middle of the heap;
// - the pages of the node binary and its libraries that only start-up read (the snapshot,
//   the bootstrap code, the parser and compiler): mapped once, counted in RSS and PSS for
//   good, and kept from reclaim while mapped.
// Once V8's memory reducer has shrunk the JS heap (it first runs ~8 s after start-up) and
// everything periodic has run once, both are given back. What runs again maps its pages
// back on first touch. Measured: docs/performance.md, "Fourth round" and "Twelfth round".

import { trimMalloc, unmapFilePages } from '../native';
import { slowLookMs } from '../supervise-dir/watch';

/**
 * After the first look at each supervise dir, the last periodic work to run for the first
 * time: whatever runs for the first time after the release has its functions compiled then,
 * which maps V8's parser back in (2 MiB of node's code, found with perf's page-fault events).
 */
const afterStartMs = slowLookMs + 5_000;

/** Once, afterStartMs from now; the timer never keeps the process alive. */
export function releaseStartupMemoryLater(): void {
  setTimeout(releaseStartupMemory, afterStartMs).unref();
}

function releaseStartupMemory(): void {
  trimMalloc();
  unmapFilePages();
}
