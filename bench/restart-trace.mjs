#!/usr/bin/env node
// Where a restart after kill -9 spends its time, phase by phase: immortal and the Go original
// side by side, each killed N times (1.5 s apart, as in bench/run) under the kernel's own
// tracer (tracefs: sched_switch, sched_wakeup, sched_process_fork/exec/exit, and the wait4
// and clone3 system calls), then the median of each phase printed as a table:
//
//   kill → exit        the bench's kill() until the killed process starts exiting
//   exit → zombie      the kernel's exit work (the same for every supervisor)
//   zombie → clone     the supervisor noticing (SIGCHLD, a blocked wait4, a pidfd) until the
//                      next child is created: the reap first (the Go original), or after
//                      (immortal's restart thread, native/prepared_restart.cc)
//   clone → exec       the child's set-up before its program runs, and the exec itself
//   exec → announced   the service's own start-up until it writes to the bench's FIFO
//   child waited       how long the new child was runnable while something else held its CPU
//   zombie → wait4     when the killed process was reaped (before or after the clone)
//
// "profile, don't guess": this is how docs/performance.md (ninth round) found the supervisor
// preempting the child it had just started. Needs root and /sys/kernel/tracing; it changes
// the tracer's settings while it runs and clears them after. Not for a loaded machine.
//
//   node bench/restart-trace.mjs [--kills=15] [--only=immortal,go-immortal]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { killAndAwaitRestart, oneServiceMissing, startOneService } from './lib/one-service.mjs';
import { StartFeed, writeServicePrograms } from './lib/services.mjs';
import { fmt, percentile } from './lib/stats.mjs';

const TRACING = '/sys/kernel/tracing';
const EVENTS = [
  'sched/sched_switch', 'sched/sched_wakeup', 'sched/sched_wakeup_new', 'sched/sched_process_fork',
  'sched/sched_process_exec', 'sched/sched_process_exit',
  'syscalls/sys_enter_wait4', 'syscalls/sys_enter_clone3',
];
const PHASES = [
  ['kill', 'exit', 'kill → exit'],
  ['exit', 'zombie', 'exit → zombie'],
  ['zombie', 'clone', 'zombie → clone'],
  ['clone', 'exec', 'clone → exec'],
  ['exec', 'seen', 'exec → announced'],
  ['kill', 'seen', 'total'],
  ['zombie', 'wait4', 'zombie → wait4 (the reap)'],
];

const options = { kills: 15, only: ['immortal', 'go-immortal'] };
for (const arg of process.argv.slice(2)) {
  const [flag, value] = arg.split('=');
  if (flag === '--kills') options.kills = Number(value);
  else if (flag === '--only') options.only = value.split(',');
  else {
    process.stderr.write(`restart-trace: unknown argument ${arg}\nusage: node bench/restart-trace.mjs [--kills=N] [--only=immortal,go-immortal]\n`);
    process.exit(2);
  }
}
if (process.getuid() !== 0 || !fs.existsSync(path.join(TRACING, 'trace_marker'))) {
  process.stderr.write(`restart-trace: needs root and tracefs at ${TRACING}\n`);
  process.exit(2);
}

const tracer = {
  write: (file, text) => fs.writeFileSync(path.join(TRACING, file), text),
  start() {
    this.write('tracing_on', '0');
    this.write('trace', '');
    this.write('buffer_size_kb', '20000');
    this.write('set_event', `${EVENTS.map((e) => e.replace('/', ':')).join('\n')}\n`);
    this.marker = fs.openSync(path.join(TRACING, 'trace_marker'), 'w');
    this.write('tracing_on', '1');
  },
  mark(text) {
    fs.writeSync(this.marker, text);
  },
  /** The trace since start(); the tracer cleared. Once per start(). */
  stop() {
    this.write('tracing_on', '0');
    fs.closeSync(this.marker);
    this.marker = undefined;
    const text = fs.readFileSync(path.join(TRACING, 'trace'), 'utf8');
    this.write('set_event', '');
    this.write('trace', '');
    return text;
  },
};

/** One supervisor of one service; kill it `kills` times under the tracer. */
async function traceColumn(id) {
  const missing = oneServiceMissing(id);
  if (missing) return { na: missing };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-restart-trace-'));
  const feed = new StartFeed(dir);
  const programs = writeServicePrograms(dir, feed.path, path.join(dir, 'unused.fifo'));
  const { stop } = startOneService(id, dir, 'svc1', [programs.idle, 'svc1']);
  let current;
  try {
    current = await feed.next('svc1', 20000);
    tracer.start();
    for (let i = 0; i < options.kills; i++) {
      ({ next: current } = await killAndAwaitRestart(feed, 'svc1', current, { mark: (text) => tracer.mark(text) }));
    }
    return { kills: phasesOf(tracer.stop()) };
  } finally {
    // A kill whose restart never came (a timeout) must not leave the tracer running.
    if (tracer.marker !== undefined) tracer.stop();
    await stop(current);
    feed.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// "<comm>-<tid> [cpu] flags <seconds>: <event>: <fields>", or "<syscall>(<args>)" for a syscall.
const LINE = /^\s*(.+)-(\d+)\s+\[\d+\]\s+\S+\s+(\d+\.\d+): (\w+)(?:: |\()(.*)$/;

/** Each kill's timestamps (ms) and how long the new child waited, from the trace text. */
function phasesOf(text) {
  const kills = [];
  let kill;
  let out;
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, , , seconds, event, rest] = m;
    const at = Number(seconds) * 1000;
    if (event === 'tracing_mark_write') {
      const [word, pid] = rest.trim().split(' ');
      if (word === 'KILL') {
        kill = { victim: pid, kill: at, waited: 0 };
        out = undefined;
      }
      else if (word === 'SEEN' && kill) {
        kill.seen = at;
        kills.push(kill);
        kill = undefined;
      }
      continue;
    }
    if (!kill) continue;
    if (event === 'sched_process_exit' && kill.exit === undefined && rest.includes(`pid=${kill.victim} `)) kill.exit = at;
    else if (event === 'sched_switch') {
      const prev = /prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)/.exec(rest);
      if (prev[1] === kill.victim && prev[2].startsWith('Z') && kill.zombie === undefined) kill.zombie = at;
      // The new child switched out while still runnable, and back in: time it waited.
      if (kill.child !== undefined && prev[1] === kill.child && prev[2].startsWith('R')) out = at;
      if (kill.child !== undefined && prev[3] === kill.child && out !== undefined) {
        kill.waited += at - out;
        out = undefined;
      }
    } else if (event === 'sys_wait4' && kill.zombie !== undefined && kill.wait4 === undefined) kill.wait4 = at;
    else if ((event === 'sys_clone3' || event === 'sched_process_fork') && kill.zombie !== undefined && kill.child === undefined) {
      // clone3 (ours) is entered before the fork event; the Go original's clone is not traced.
      kill.clone ??= at;
      if (event === 'sched_process_fork') kill.child = /child_pid=(\d+)/.exec(rest)[1];
    } else if (event === 'sched_process_exec' && kill.exec === undefined && kill.child !== undefined && rest.includes(`pid=${kill.child} `)) kill.exec = at;
  }
  return kills;
}

const columns = [];
for (const id of options.only) {
  process.stderr.write(`${id}: ${options.kills} kills, traced…\n`);
  columns.push({ id, ...(await traceColumn(id)) });
}

const median = (kills, from, to) => {
  const values = kills.filter((k) => k[from] !== undefined && k[to] !== undefined).map((k) => k[to] - k[from]);
  return values.length === 0 ? undefined : percentile(values, 50);
};
const rows = [['phase (median, ms)', ...columns.map((c) => c.id)]];
for (const [from, to, label] of PHASES) {
  rows.push([label, ...columns.map((c) => (c.na ? 'n/a' : fmt(median(c.kills, from, to))))]);
}
rows.push(['child waited (median / max)', ...columns.map((c) => (c.na ? 'n/a'
  : `${fmt(percentile(c.kills.map((k) => k.waited), 50))} / ${fmt(Math.max(...c.kills.map((k) => k.waited)))}`))]);
rows.push(['kills traced', ...columns.map((c) => (c.na ? c.na : String(c.kills.length)))]);
process.stdout.write(`${rows.map((r, i) => `| ${r.join(' | ')} |${i === 0 ? `\n|${r.map((_, j) => (j === 0 ? '---' : '---:')).join('|')}|` : ''}`).join('\n')}\n`);
