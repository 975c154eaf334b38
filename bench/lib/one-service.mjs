// One supervisor of one idle service, started as an operator would (`immortal -n -ctl NAME -c
// FILE`), for the scripts that kill that service over and over: restart-trace.mjs and
// restart-pairs.mjs. The service announces each start on the bench's FIFO (services.mjs).
// killAndAwaitRestart is also bench/run's kill step, for every supervisor (measures.mjs).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { nodeFlagsFor } from './node-flags.mjs';
import { nowMs, sleep } from './stats.mjs';
import { goImmortalDir } from './supervisors.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Why `id` cannot run here, or undefined. */
export function oneServiceMissing(id) {
  if (id === 'go-immortal') return goImmortalDir() ? undefined : 'the Go original not found (IMMORTAL_GO_DIR)';
  if (id === 'immortal') return fs.existsSync(path.join(ROOT, 'dist', 'cli', 'immortal.js')) ? undefined : 'dist/ not built (npm install)';
  return `unknown supervisor ${id} (immortal, go-immortal)`;
}

/**
 * Starts supervisor `id` (immortal or go-immortal) of service `name` running `argv`, with its
 * own directory under dir. Returns { stop(current), mark }: stop halts service and supervisor
 * (waiting up to 10 s) and KILLs `current`, the service's last announced start, should it
 * outlive that; mark finds the supervisor's processes (proc.mjs, supervisorCpuSnapshot).
 */
export function startOneService(id, dir, name, argv) {
  const mark = ['BENCH_MARK', `immortal-bench-${process.pid}-${id}-${name}`];
  const env = { ...process.env, IMMORTAL_SDIR: path.join(dir, 'sdir'), HOME: dir, [mark[0]]: mark[1] };
  fs.mkdirSync(env.IMMORTAL_SDIR, { recursive: true });
  const yml = path.join(dir, `${name}.yml`);
  let supervisor;
  let halt;
  if (id === 'go-immortal') {
    const bin = goImmortalDir();
    fs.writeFileSync(yml, `cmd: ${argv.join(' ')}\n`);
    supervisor = spawn(path.join(bin, 'immortal'), ['-n', '-ctl', name, '-c', yml], { env, stdio: 'ignore' });
    halt = () => spawnSync(path.join(bin, 'immortalctl'), ['halt', name], { env });
  } else {
    const cli = path.join(ROOT, 'dist', 'cli', 'immortal.js');
    // As in bench/run: no crash-loop backoff, which would add its own delay.
    fs.writeFileSync(yml, `cmd: ${argv.join(' ')}\nbackoff:\n  cap: 0\n`);
    supervisor = spawn(process.execPath, [...nodeFlagsFor(cli), cli, '-n', '-ctl', name, '-c', yml], { env, stdio: 'ignore' });
    const ctl = path.join(ROOT, 'dist', 'cli', 'immortalctl.js');
    halt = () => spawnSync(process.execPath, [ctl, 'halt', name], { env });
  }
  const exited = new Promise((resolve) => supervisor.once('exit', resolve));
  const stop = async (current) => {
    halt();
    await Promise.race([exited, sleep(10000)]);
    try {
      process.kill(current?.pid, 'SIGKILL');
    } catch {
      // gone with the halt
    }
  };
  return { stop, mark };
}

/**
 * Kills the service's current process once it has run minAgeMs (every supervisor here waits
 * until 1 s after a start before the next one) and waits for the next start's announcement.
 * beforeKill() is called just before the kill (past the wait), mark(text) just before the
 * kill and after the announcement. Returns { next, latency }: the new start, and kill →
 * announced in ms.
 */
export async function killAndAwaitRestart(feed, name, current, { minAgeMs = 1500, beforeKill = () => {}, mark = () => {} } = {}) {
  const age = nowMs() - current.at;
  if (age < minAgeMs) await sleep(minAgeMs - age);
  feed.drain(name);
  beforeKill();
  mark(`KILL ${current.pid}`);
  const killedAt = nowMs();
  process.kill(current.pid, 'SIGKILL');
  const next = await feed.next(name, 20000);
  mark(`SEEN ${next.pid}`);
  return { next, latency: next.at - killedAt };
}
