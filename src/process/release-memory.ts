// Start-up frees a good deal of C-heap memory (module loading, compiling, V8's bookkeeping
// for its first collections) that glibc keeps for reuse, even whole pages in the middle of
// the heap. A supervisor then idles for months and never needs it back: once V8's memory
// reducer has shrunk the JS heap (it first runs ~8 s after start-up), the free pages are
// handed back to the kernel. Measured on an idle `immortal -n`: −0.28 MiB anonymous RSS of
// ~8 (docs/performance.md).

import { trimMalloc } from '../native';

/** Long enough for the memory reducer's first rounds; nothing of start-up is still running. */
const afterStartMs = 30_000;

/** Once, afterStartMs from now; the timer never keeps the process alive. */
export function releaseStartupMemoryLater(): void {
  setTimeout(trimMalloc, afterStartMs).unref();
}
