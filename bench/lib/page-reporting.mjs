// A virtual machine's free page reporting (virtio-balloon), paused while the log rounds run.
//
// With it, memory the guest frees is handed back to the host a moment later (here ~2 s, then
// ~256 MiB every 2 s), and a write into such a page first faults in the host: ~10× dearer,
// counted as the writer's CPU. A log measurement writes 1-1.25 GB into new page-cache pages
// right after the measurement before it freed as much, so whichever measurement overlapped a
// reporting pass came out a third slower, whoever wrote (1 GB with timestamps through
// `immortal -n`, eight times: 1006-1125 MB/s in the three runs during which 278-384 MiB were
// reported, 1475-1610 in the others; paused, eight of eight at 1471-1619). Paused for every
// column and the direct redirect alike; what was already reported is brought back by the
// bench's warming (measures.mjs, warmFreeMemory). Bare metal has nothing to pause.

import fs from 'node:fs';

const ORDER = '/sys/module/page_reporting/parameters/page_reporting_order';
// Reporting looks at free blocks of this order and above; the buddy allocator's largest is
// 10 (4 MiB of 4 KiB pages), so at 11 no block qualifies. A kernel that refuses values above
// its largest order (upstream does) leaves reporting on, and the run says so.
const OFF = '11';

/**
 * Pauses reporting if this machine has it and we may. Returns { state, restore }: state for
 * the results ("paused during the log rounds (order 9 otherwise)", "on (order 9; cannot
 * pause: EACCES)", "none"); restore() puts the order back, once.
 */
export function pausePageReporting() {
  let was;
  try {
    was = fs.readFileSync(ORDER, 'utf8').trim();
  } catch {
    return { state: 'none', restore() {} };
  }
  try {
    fs.writeFileSync(ORDER, OFF);
  } catch (err) {
    return { state: `on (order ${was}; cannot pause: ${err.code ?? err.message})`, restore() {} };
  }
  if (fs.readFileSync(ORDER, 'utf8').trim() !== OFF) {
    fs.writeFileSync(ORDER, was);
    return { state: `on (order ${was}; the kernel did not take order ${OFF})`, restore() {} };
  }
  let restored = false;
  return {
    state: `paused during the log rounds (order ${was} otherwise)`,
    restore() {
      if (restored) return;
      restored = true;
      try {
        fs.writeFileSync(ORDER, was);
      } catch (err) {
        process.stderr.write(`[bench] could not put page reporting back to order ${was}: ${err.message}\n`);
      }
    },
  };
}
