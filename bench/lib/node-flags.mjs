// The Node/V8 flags our programs run with when an operator starts them (from their `#!`
// line: `#!/usr/bin/env -S node --max-semi-space-size=1`), then $IMMORTAL_BENCH_NODE_FLAGS
// (space-separated: to measure a flag across the whole table before adopting it). The bench
// starts `node <flags> script` itself, so without the `#!` flags it would measure a program
// nobody runs.
import fs from 'node:fs';

export function nodeFlagsFor(script) {
  const first = fs.readFileSync(script, 'utf8').split('\n', 1)[0];
  const words = first.startsWith('#!') ? first.slice(2).trim().split(/\s+/) : [];
  const node = words.findIndex((word) => word === 'node' || word.endsWith('/node'));
  const fromShebang = node === -1 ? [] : words.slice(node + 1);
  return [...fromShebang, ...(process.env.IMMORTAL_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
}
