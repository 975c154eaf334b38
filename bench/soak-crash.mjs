#!/usr/bin/env node
// Soak: a service that exits at once, restarted 10 000 times by one `immortal` with the 1 s
// rule shortened to 1 ms (IMMORTAL_TEST_RESTART_MS=1) and the backoff off (backoff.cap 0).
// Reports restarts per second, zombies under the supervisor (sampled), and its RSS over time.
//
//   node bench/soak-crash.mjs [restarts=10000] [cmd=false]
//
// Needs a built tree (npx tsc -p .). Linux (/proc).

import { metrics, procStat, rssKb, sandbox, sleep, waitForStatus, zombiesUnder } from '../test/reliability-helpers.mjs';

const target = Number(process.argv[2] ?? 10000);
const cmd = process.argv[3] ?? 'false';
const sampleMs = 100;
/** RSS at 0 %, 25 %, 50 %, 75 % and 100 % of the restarts. */
const rssPoints = 5;

const box = sandbox(undefined, { restartMs: 1 });
const sock = box.ctlSocket('crash');
const file = box.write('crash.yml', `cmd: ${cmd}\nbackoff: {cap: 0}\n`);
const run = box.start(['-n', '-c', file, '-ctl', 'crash']);
const supervisor = run.pid;

let exitCode = 0;
try {
  await waitForStatus(sock, (s) => s.count >= 1);
  const began = performance.now();
  const rss = [];
  let samples = 0;
  let zombieSightings = 0;
  /** A zombie seen in two samples in a row (≥ 100 ms): never reaped. */
  const lingering = new Set();
  let previousZombies = new Set();
  let count = 0;
  let nextRssAt = 0;
  while (count < target) {
    await sleep(sampleMs);
    if (run.exitStatus !== undefined) throw new Error(`supervisor exited: ${JSON.stringify(run.exitStatus)}\n${run.stderr.slice(-2000)}`);
    count = (await metrics(sock)).immortal_starts_total;
    const zombies = zombiesUnder(supervisor);
    samples++;
    zombieSightings += zombies.length;
    for (const pid of zombies) if (previousZombies.has(pid) && procStat(pid)?.state === 'Z') lingering.add(pid);
    previousZombies = new Set(zombies);
    if (count >= nextRssAt) {
      rss.push({ restarts: count, kb: rssKb(supervisor), seconds: (performance.now() - began) / 1000 });
      nextRssAt = (target * rss.length) / (rssPoints - 1);
    }
  }
  const seconds = (performance.now() - began) / 1000;
  run.kill('SIGTERM');
  const exit = await run.waitExit(30000);
  await sleep(200);
  const zombiesAfter = zombiesUnder(supervisor).length;

  console.log(`## soak-crash: \`${cmd}\` restarted ${count} times (IMMORTAL_TEST_RESTART_MS=1, backoff.cap 0)\n`);
  console.log('| metric | value |');
  console.log('|---|---|');
  console.log(`| restarts | ${count} |`);
  console.log(`| wall time | ${seconds.toFixed(1)} s |`);
  console.log(`| restarts/s | ${(count / seconds).toFixed(0)} |`);
  console.log(`| /proc samples (every ${sampleMs} ms) | ${samples} |`);
  console.log(`| zombies seen in samples (exited, not yet reaped at that instant) | ${zombieSightings} |`);
  console.log(`| zombies still there ≥ ${sampleMs} ms later | ${lingering.size} |`);
  console.log(`| supervisor exit after SIGTERM | ${JSON.stringify(exit)} |`);
  console.log('');
  console.log('| point | restarts | RSS (MiB) |');
  console.log('|---|---|---|');
  for (const [i, point] of rss.entries()) {
    console.log(`| ${(100 * i) / (rssPoints - 1)} % (${point.seconds.toFixed(1)} s) | ${point.restarts} | ${(point.kb / 1024).toFixed(1)} |`);
  }
  if (lingering.size > 0 || zombiesAfter > 0 || exit.code !== 0) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  const leftovers = await box.cleanup();
  if (leftovers.length > 0) {
    console.error(`left running: ${leftovers.join(', ')}`);
    exitCode = 1;
  }
}
process.exit(exitCode);
