// The log output in-process: real pipes, real children (native.spawn), real files. Each test
// reads like the operator's story; line-exact checks (none missing, duplicated or split).

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { waitFor, tmpdir, procStatus } from './helpers.mjs';
import { close, openOutput, runChild, spawnOnOutput } from './fixtures/log-harness.mjs';

const MB = 1024 * 1024;

function config(dir, { log, stderr, logger } = {}) {
  const section = (s) => s && { age: 0, num: 0, size: 0, timestamp: false, ...s, file: path.join(dir, s.file) };
  return { name: 'logtest', command: ['test'], cwd: dir, env: {}, log: section(log), stderr: section(stderr), logger };
}

function open(cfg, opts = { report: (message) => reports.push(message) }) {
  return openOutput(cfg, opts);
}
const reports = [];

function readLines(file) {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `${file} ends on a line boundary`);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

/** The file's rotated copies, oldest first, then the file itself. */
function rotatedSet(file) {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const numbers = fs.readdirSync(dir)
    .map((name) => (name.startsWith(`${base}.`) ? Number(name.slice(base.length + 1)) : NaN))
    .filter(Number.isInteger)
    .sort((a, b) => b - a);
  return [...numbers.map((n) => `${file}.${n}`), file];
}

/** lines are exactly `${stream} from` … `${stream} to`, in order. */
function assertSequence(lines, from, to, stream = 'out') {
  assert.equal(lines.length, to - from + 1, `${to - from + 1} lines`);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== `${stream} ${from + i}`) assert.fail(`line ${i}: expected "${stream} ${from + i}", got "${lines[i].slice(0, 80)}"`);
  }
}

test('200 000 numbered lines over two starts and many size rotations: none missing, duplicated or split', async (t) => {
  const dir = tmpdir(t);
  const output = open(config(dir, { log: { file: 'app.log', size: 0.1, num: 100 } }));
  const first = runChild(output, [100000]);
  await first.exited;
  // Restarted at once: the first child's last lines are still in the pipe or the queue.
  const second = runChild(output, [100000, '--start=100001']);
  await second.exited;
  await close(output);

  const files = rotatedSet(path.join(dir, 'app.log'));
  assert.ok(files.length >= 15, `rotated ${files.length - 1} times`);
  for (const file of files) {
    assert.ok(fs.statSync(file).size <= 0.1 * MB, `${path.basename(file)} within the size limit`);
  }
  assertSequence(files.flatMap(readLines), 1, 200000);
  assert.equal(output.droppedLines(), 0);
  assert.equal(output.lastError(), undefined);
});

test('a rotation never leaves app.log missing, and no temporary name behind', async (t) => {
  // svlogd's `current` is missing between its rename and the new open; ours is not: app.log.1
  // is linked to it first, then a new file is renamed over it (native/log_file.cc).
  const dir = tmpdir(t);
  const file = path.join(dir, 'app.log');
  const output = open(config(dir, { log: { file: 'app.log', size: 0.01, num: 3 } }));
  // A tight loop of stat() on the name, in a thread of its own (this event loop must stay
  // free: the copier hands lines to it and pauses the pipe when they pile up), from before
  // the first line until the writer is done, while the copier rotates the file hundreds of
  // times a second.
  const done = new Int32Array(new SharedArrayBuffer(4));
  const watcher = new Worker(`
    const fs = require('node:fs');
    const { parentPort, workerData: { file, done } } = require('node:worker_threads');
    let looks = 0, missing = 0, rotations = 0, inode;
    parentPort.postMessage('looking');
    while (Atomics.load(done, 0) === 0) {
      looks++;
      try {
        const { ino } = fs.statSync(file);
        if (inode !== undefined && ino !== inode) rotations++;
        inode = ino;
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
        missing++;
      }
    }
    parentPort.postMessage({ looks, missing, rotations });`, { eval: true, workerData: { file, done } });
  await once(watcher, 'message');
  await runChild(output, [1000000]).exited;
  await close(output);
  Atomics.store(done, 0, 1);
  const [{ looks, missing, rotations }] = await once(watcher, 'message');
  assert.ok(rotations >= 100, `${rotations} rotations seen in ${looks} looks`);
  assert.equal(missing, 0, `app.log missing at ${missing} of ${looks} looks, over ${rotations} rotations`);
  assert.deepEqual(fs.readdirSync(dir).filter((name) => !/^app\.log(\.[123])?$/.test(name)), [], 'only app.log and its rotated files');
  assert.notEqual(fs.statSync(file).ino, fs.statSync(`${file}.1`).ino, 'app.log.1 is the old file, app.log a new one');
  assert.equal(output.lastError(), undefined);
});

test('num: only the newest rotated files are kept; the oldest are dropped whole', async (t) => {
  const dir = tmpdir(t);
  const output = open(config(dir, { log: { file: 'app.log', size: 0.01, num: 2 } }));
  await runChild(output, [20000]).exited;
  await close(output);
  const file = path.join(dir, 'app.log');
  assert.deepEqual(rotatedSet(file), [`${file}.2`, `${file}.1`, file]);
  const kept = rotatedSet(file).flatMap(readLines);
  assertSequence(kept, 20000 - kept.length + 1, 20000);
});

test('age: a file older than `age` seconds is rotated, even while the service is quiet', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'app.log');
  const output = open(config(dir, { log: { file: 'app.log', age: 0.3, num: 5 } }));
  const go = path.join(dir, 'go');
  const child = runChild(output, [1000, '--pause-at=500', `--go-file=${go}`]);
  await waitFor(() => fs.existsSync(`${file}.1`), { timeout: 3000, message: 'age rotation' });
  fs.writeFileSync(go, '');
  await child.exited;
  await waitFor(() => fs.existsSync(file) && fs.statSync(file).size > 0, { message: 'second half written' });
  const firstHalf = readLines(`${file}.1`);
  assertSequence(firstHalf, 1, 500);
  // An empty file is not rotated: nothing to move away.
  await close(output);
  assert.equal(fs.existsSync(`${file}.3`), false);
  assertSequence(rotatedSet(file).flatMap(readLines), 1, 1000);
});

test('stdout and stderr in one log keep the order they were written in', async (t) => {
  const dir = tmpdir(t);
  const output = open(config(dir, { log: { file: 'app.log' } }));
  assert.equal(output.stdoutFd, output.stderrFd, 'one pipe for both');
  await runChild(output, [2000, '--to=alt']).exited;
  await close(output);
  const lines = readLines(path.join(dir, 'app.log'));
  assert.equal(lines.length, 2000);
  lines.forEach((line, i) => assert.equal(line, `${i % 2 === 0 ? 'out' : 'err'} ${i + 1}`));
});

test('stderr: its own file; timestamp: every line prefixed with RFC 3339 UTC milliseconds', async (t) => {
  const dir = tmpdir(t);
  const output = open(config(dir, { log: { file: 'out.log', timestamp: true }, stderr: { file: 'err.log' } }));
  assert.notEqual(output.stdoutFd, output.stderrFd);
  const before = Date.now();
  await runChild(output, [2000, '--to=alt']).exited;
  await close(output);
  const stamped = readLines(path.join(dir, 'out.log'));
  assert.equal(stamped.length, 1000);
  stamped.forEach((line, i) => {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$/.exec(line);
    assert.ok(match, `timestamped: ${line}`);
    assert.equal(match[2], `out ${2 * i + 1}`);
    const at = Date.parse(match[1]);
    assert.ok(at >= before - 1000 && at <= Date.now(), 'the time the line was read');
  });
  const errLines = readLines(path.join(dir, 'err.log'));
  assert.equal(errLines.length, 1000);
  errLines.forEach((line, i) => assert.equal(line, `err ${2 * i + 2}`, 'no timestamp without timestamp: true'));
  const mode = fs.statSync(path.join(dir, 'err.log')).mode & 0o777;
  assert.equal(mode, 0o640, 'created 0640');
});

test('an unfinished last line is written with a newline; a line over 64 KiB is cut into 64 KiB pieces', async (t) => {
  const dir = tmpdir(t);
  const output = open(config(dir, { log: { file: 'app.log' } }));
  await runChild(output, [3, '--partial=100000']).exited;
  await close(output);
  const lines = readLines(path.join(dir, 'app.log'));
  assert.deepEqual(lines.slice(0, 3), ['out 1', 'out 2', 'out 3']);
  assert.deepEqual(lines.slice(3).map((l) => l.length), [65536, 100000 - 65536]);
});

test('a log file that cannot be opened: an error naming the file, nothing left open', (t) => {
  const dir = tmpdir(t);
  fs.writeFileSync(path.join(dir, 'plain'), '');
  const fdsBefore = fs.readdirSync('/proc/self/fd').length;
  assert.throws(() => open(config(dir, { log: { file: 'plain/app.log' } })), (err) => {
    assert.match(err.message, /^log file .*plain\/app\.log: cannot open: /);
    assert.equal(err.code, 'ENOTDIR');
    return true;
  });
  assert.throws(() => open(config(dir, { log: { file: 'ok.log' }, stderr: { file: 'missing/err.log' } })), /missing\/err\.log: cannot open: no such file/);
  assert.equal(fs.readdirSync('/proc/self/fd').length, fdsBefore, 'no fd leaked');
});

test('SIGUSR1 reopen: after an external logrotate moved the file, new lines go to a new file', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'app.log');
  const output = open(config(dir, { log: { file: 'app.log' } }));
  await runChild(output, [1000]).exited;
  await waitFor(() => fs.existsSync(file) && readLines(file).length === 1000, { message: 'first batch written' });
  fs.renameSync(file, `${file}.moved`);
  output.reopen();
  await runChild(output, [1000, '--start=1001']).exited;
  await close(output);
  assertSequence(readLines(`${file}.moved`), 1, 1000);
  assertSequence(readLines(file), 1001, 2000);
});

/** /proc/<pid>/io wchar: bytes the process has written so far. */
function bytesWritten(pid) {
  const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/wchar: (\d+)/.exec(io)[1]);
}

/** The process sleeps in write(2) on a full pipe. */
function blockedOnPipe(pid) {
  try {
    const wchan = fs.readFileSync(`/proc/${pid}/wchan`, 'utf8');
    if (/pipe_write|pipe_wait/.test(wchan)) return true;
    return procStatus(pid)?.State[0] === 'S' && fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').startsWith('1 ');
  } catch {
    return false;
  }
}

test('a slow disk makes the service wait, not the supervisor grow', async (t) => {
  const dir = tmpdir(t);
  const fifo = path.join(dir, 'app.log');
  // A FIFO nobody reads stands for a disk that has stopped: the writer's write blocks.
  assert.equal(spawnSyncStatus('mkfifo', [fifo]), 0);
  const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const output = open(config(dir, { log: { file: 'app.log' } }));
  const total = 20 * MB;
  const child = runChild(output, ['--bytes=' + total]);
  let received;
  try {
    // Blocked, and still blocked with nothing more written a moment later: it waits for us.
    await waitFor(async () => {
      if (!blockedOnPipe(child.pid)) return false;
      const before = bytesWritten(child.pid);
      await new Promise((resolve) => setTimeout(resolve, 200));
      return blockedOnPipe(child.pid) && bytesWritten(child.pid) === before;
    }, { timeout: 10000, interval: 50, message: 'the service blocked on its full pipe' });
    const stalledAt = bytesWritten(child.pid);
    assert.ok(stalledAt < 4 * MB, `the service stopped after ${stalledAt} bytes: only a bounded amount is held`);
  } finally {
    // The disk comes back (also when the test failed: a write blocked forever would keep the
    // process alive): everything arrives.
    received = await drainFd(readFd, total, child.exited);
  }
  await close(output);
  assert.equal(received, benchBytes(total), 'every byte arrived');
});

/** What the bench generator writes for `total`: whole 1 MiB-ish blocks of 100-byte lines. */
function benchBytes(total) {
  const block = Math.floor((1 << 20) / 100) * 100;
  return Math.ceil(total / block) * block;
}

function drainFd(fd, expected, childExited) {
  return new Promise((resolve, reject) => {
    const socket = new net.Socket({ fd, readable: true, writable: false });
    let bytes = 0;
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      if (bytes >= benchBytes(expected)) {
        childExited.then(() => {
          socket.destroy();
          resolve(bytes);
        });
      }
    });
    socket.on('error', reject);
  });
}

function spawnSyncStatus(cmd, args) {
  return spawnSync(cmd, args).status;
}

/** Bytes of `out 1\n` … `out N\n` from the fixture. */
function lineBytes(from, to) {
  let bytes = 0;
  for (let n = from; n <= to; n++) bytes += `out ${n}\n`.length;
  return bytes;
}

/** A 64 KiB tmpfs (root); undefined where mounting is refused. */
function smallFilesystem(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-full-'));
  const mounted = spawnSyncStatus('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]) === 0;
  t.after(() => {
    if (mounted) spawnSyncStatus('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return mounted ? dir : undefined;
}

test('disk full: the service keeps running, the error is reported, lost lines are counted', async (t) => {
  const mnt = smallFilesystem(t);
  if (mnt === undefined) t.diagnostic('mount refused: falling back to /dev/full (always ENOSPC)');
  const cfg = mnt ? config(mnt, { log: { file: 'app.log' } }) : config('/dev', { log: { file: 'full' } });
  const retryMs = 100;
  const messages = [];
  const output = open(cfg, { report: (m) => messages.push(m), fileRetryMs: retryMs });
  const total = 200000;
  const hold = path.join(tmpdir(t), 'hold');
  const child = runChild(output, [total, `--hold=${hold}`]);

  // The service gets all of its output out: it is not blocked by the full disk.
  await waitFor(() => bytesWritten(child.pid) >= lineBytes(1, total), { timeout: 10000, message: 'the service wrote everything' });
  await waitFor(() => output.lastError(), { message: 'lastError set' });
  assert.match(output.lastError(), /ENOSPC/);
  assert.match(output.lastError(), /app\.log|full/, 'names the file');
  assert.ok(output.droppedLines() > 0, 'lost lines are counted');
  assert.equal(messages.filter((m) => /ENOSPC/.test(m)).length, 1, 'reported once, not once per line');
  const status = procStatus(child.pid);
  assert.ok(status && status.State[0] !== 'Z', 'the service is still running');

  // No spinning while the disk stays full.
  const cpuBefore = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, 3 * retryMs));
  const cpu = process.cpuUsage(cpuBefore);
  assert.ok(cpu.user + cpu.system < 100_000, `idle while failing (${cpu.user + cpu.system} µs CPU)`);

  if (mnt) {
    // Space comes back: the next lines are written, starting on a line of their own.
    const file = path.join(mnt, 'app.log');
    const linesBefore = fs.readFileSync(file, 'utf8').split('\n').length - 1;
    fs.truncateSync(file, 0);
    await runChild(output, [1000, `--start=${total + 1}`]).exited;
    await waitFor(() => output.lastError() === undefined, { message: 'writing again' });
    await waitFor(() => fs.readFileSync(file, 'utf8').endsWith(`out ${total + 1000}\n`), { message: 'new lines written' });
    const after = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
    assertSequence(after, total + 1, total + 1000);
    assert.equal(linesBefore + output.droppedLines() + after.length, total + 1000, 'every line is written or counted as dropped');
    assert.ok(messages.some((m) => /writing again \(\d+ lines dropped\)/.test(m)));
  }
  fs.writeFileSync(hold, '');
  await child.exited;
  await close(output);
});

test('endOfRun: an exited service’s unfinished line is ended before the next start writes', async (t) => {
  const dir = tmpdir(t);
  const output = open(config(dir, { log: { file: 'app.log' } }));
  await runChild(output, [2, '--partial=3']).exited;
  output.endOfRun(); // what the supervisor does on exit, before the restart
  await runChild(output, [2, '--start=3']).exited;
  await close(output);
  assert.deepEqual(readLines(path.join(dir, 'app.log')), ['out 1', 'out 2', 'ppp', 'out 3', 'out 4']);
});

test('close: a daemonized grandchild holding the pipe open delays the exit by about a second, no more', async (t) => {
  const dir = tmpdir(t);
  const output = open(config(dir, { log: { file: 'app.log' } }));
  const pidFile = path.join(dir, 'grandchild.pid');
  await spawnOnOutput(output, '/bin/sh', ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; echo started`], { setsid: false }).exited;
  const grandchild = Number(await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim()));
  t.after(() => { try { process.kill(grandchild, 'SIGKILL'); } catch { /* gone */ } });
  const started = Date.now();
  await close(output);
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 2500, `closed after ${took} ms`);
  assert.deepEqual(readLines(path.join(dir, 'app.log')), ['started']);
});
