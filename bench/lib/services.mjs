// The supervised programs every supervisor runs, and the feed that tells the benchmark the
// moment each start happens.
//
// Each program is a tiny /bin/sh script that writes "<name> <pid>" into a FIFO the bench holds
// open, then execs its real work: so a start is seen within microseconds, the same way for
// every supervisor, whatever its own status interface. Scripts mark themselves with
// BENCH_SERVICE=1 so memory sums can leave the services out and count only supervisors.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { nowMs } from './stats.mjs';

/** One 100-byte line (99 characters and a newline) for the log throughput generator. */
export const LOG_LINE = `immortal-bench ${'x'.repeat(99 - 'immortal-bench '.length)}`;

/** The generator's last line, as long as the others: what shows that a log is complete
 *  when timestamps make its size unknown in advance. */
export const LOG_END = `immortal-bench-end ${'x'.repeat(99 - 'immortal-bench-end '.length)}`;

/** Writes bin/idle, bin/gen and bin/daemon under dir; returns their paths. */
export function writeServicePrograms(dir, fifo, goFifo) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const header = `#!/bin/sh\nBENCH_SERVICE=1; export BENCH_SERVICE\n`;
  const programs = {
    // $1 name: announce, then sleep (an idle service).
    idle: `${header}echo "$1 $$" > ${fifo}\nexec sleep 1000000\n`,
    // $1 name, $2 bytes: announce, wait for the bench's go (a line on the go FIFO), write $2
    // bytes of 100-byte lines to stdout (the last one LOG_END), then idle.
    gen: `${header}echo "$1 $$" > ${fifo}\nread go < ${goFifo}\nyes '${LOG_LINE}' | head -c "$(($2 - 100))"\necho '${LOG_END}'\nexec sleep 1000000\n`,
    // $1 name, $2 pidfile: daemonize (background child, pidfile written atomically), exit 0.
    daemon: `${header}sleep 1000000 &\necho $! > "$2.new" && mv "$2.new" "$2"\necho "$1 $!" > ${fifo}\nexit 0\n`,
  };
  const paths = {};
  for (const [name, text] of Object.entries(programs)) {
    const file = path.join(bin, name);
    fs.writeFileSync(file, text, { mode: 0o755 });
    paths[name] = file;
  }
  return paths;
}

/** Makes a FIFO and opens it read-write: neither end ever blocks on open, and it never sees EOF. */
function openFifo(file) {
  const made = spawnSync('mkfifo', ['-m', '0666', file], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mkfifo: ${made.error?.code === 'ENOENT' ? 'not found on PATH' : made.error?.message ?? made.stderr.trim()}`);
  return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
}

/**
 * What the log generator waits for after its announcement: the bench lets it write only once
 * the scene is set (see warmFreeMemory in measures.mjs), and times the copy from that moment.
 */
export class GoGate {
  constructor(dir) {
    this.path = path.join(dir, 'go.fifo');
    this.fd = openFifo(this.path);
  }

  /** Lets one waiting (or the next) generator go; returns the moment. */
  open() {
    fs.writeSync(this.fd, 'go\n');
    return nowMs();
  }

  close() {
    fs.closeSync(this.fd);
  }
}

/**
 * Start announcements from the FIFO: `next(name)` resolves with {name, pid, at} for the next
 * start of that service not yet taken. Opened read-write so writers never block and the
 * stream never sees EOF when a writer closes.
 */
export class StartFeed {
  constructor(dir) {
    this.path = path.join(dir, 'starts.fifo');
    const fd = openFifo(this.path);
    this.socket = new net.Socket({ fd, readable: true, writable: false });
    this.queues = new Map();
    this.waiters = new Map();
    this.seen = new Set();
    let pending = '';
    this.socket.on('data', (chunk) => {
      const at = nowMs();
      pending += chunk.toString('latin1');
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const [name, pid] = line.trim().split(/\s+/);
        if (name) this.deliver({ name, pid: Number(pid), at });
      }
    });
  }

  deliver(event) {
    this.seen.add(event.name);
    const waiters = this.waiters.get(event.name);
    if (waiters?.length) return waiters.shift()(event);
    if (!this.queues.has(event.name)) this.queues.set(event.name, []);
    this.queues.get(event.name).push(event);
  }

  /** Forget announcements not taken yet (before provoking a new start). */
  drain(name) {
    this.queues.delete(name);
  }

  next(name, timeoutMs = 30000) {
    const queued = this.queues.get(name);
    if (queued?.length) return Promise.resolve(queued.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(name) ?? [];
        const index = list.indexOf(done);
        if (index >= 0) list.splice(index, 1);
        reject(new Error(`no start of ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (event) => {
        clearTimeout(timer);
        resolve(event);
      };
      if (!this.waiters.has(name)) this.waiters.set(name, []);
      this.waiters.get(name).push(done);
    });
  }

  /** Resolves once every name has announced at least one start. */
  async all(names, timeoutMs = 120000) {
    const deadline = Date.now() + timeoutMs;
    while (!names.every((name) => this.seen.has(name))) {
      if (Date.now() > deadline) {
        const missing = names.filter((name) => !this.seen.has(name));
        throw new Error(`${missing.length} of ${names.length} services never started (e.g. ${missing[0]})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const name of names) this.drain(name);
  }

  close() {
    this.socket.destroy();
    try {
      fs.unlinkSync(this.path);
    } catch {
      // already gone with its directory
    }
  }
}
