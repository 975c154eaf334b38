// Times pm2's programmatic status query (pm2.describe: RPC to the God daemon over its unix
// socket), run as a child so the pm2 module never loads into the benchmark itself.
//   node pm2-probe.mjs <pm2 module dir> <app name> <count>   (PM2_HOME in the environment)
// Prints one JSON array of milliseconds.

import { createRequire } from 'node:module';
import path from 'node:path';

const [moduleDir, name, count] = process.argv.slice(2);
const require = createRequire(path.join(moduleDir, 'package.json'));
const pm2 = require(moduleDir);

const call = (fn, ...args) => new Promise((resolve, reject) => fn.call(pm2, ...args, (err, value) => (err ? reject(err) : resolve(value))));

// connect(true): attach to the running daemon, never start one.
await call(pm2.connect, true);
const samples = [];
try {
  for (let i = 0; i < Number(count); i++) {
    const started = process.hrtime.bigint();
    const described = await call(pm2.describe, name);
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (!described?.[0]?.pid) throw new Error(`pm2.describe(${name}) returned no pid`);
  }
} finally {
  pm2.disconnect();
}
process.stdout.write(`${JSON.stringify(samples)}\n`);
process.exit(0);
