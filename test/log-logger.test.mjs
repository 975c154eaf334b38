// The `logger` command, in-process: it gets every line on stdin, is restarted when it dies,
// and a slow or dead logger costs dropped (counted) lines, never a blocked service.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { waitFor, tmpdir, descendantsOf, procStat } from './helpers.mjs';
import { close, isFixtureChild, openOutput, outputs, runChild } from './fixtures/log-harness.mjs';

const native = createRequire(import.meta.url)('../dist/native.js');

function open(dir, { log, logger, ...opts }) {
  const cfg = {
    name: 'loggertest',
    command: ['test'],
    cwd: dir,
    env: {},
    log: log && { age: 0, num: 0, size: 0, timestamp: false, file: path.join(dir, log) },
    logger,
  };
  const messages = [];
  const output = openOutput(cfg, { report: (m) => messages.push(m), loggerRestartMs: 100, ...opts });
  return { output, messages };
}

function lines(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
  } catch {
    return [];
  }
}

function numbers(file) {
  return lines(file).map((line) => Number(line.split(' ')[1]));
}

/** The running logger: our child that is not one of the service's children. */
function loggerPid() {
  const ours = descendantsOf(process.pid).filter((pid) => !isFixtureChild(pid) && procStat(pid)?.ppid === process.pid);
  return ours.length === 1 ? ours[0] : undefined;
}

test('the logger receives every line, the log file too', async (t) => {
  const dir = tmpdir(t);
  const { output } = open(dir, { log: 'app.log', logger: 'exec cat > logger.out' });
  await runChild(output, [100000, '--to=alt']).exited;
  await close(output);
  for (const file of ['app.log', 'logger.out']) {
    const got = lines(path.join(dir, file));
    assert.equal(got.length, 100000, file);
    got.forEach((line, i) => {
      if (line !== `${i % 2 === 0 ? 'out' : 'err'} ${i + 1}`) assert.fail(`${file} line ${i + 1}: ${line}`);
    });
  }
  assert.equal(output.droppedLines(), 0);
});

test('a logger killed between lines is started again and gets the lines written meanwhile', async (t) => {
  const dir = tmpdir(t);
  const out = path.join(dir, 'logger.out');
  const go = path.join(dir, 'go');
  const { output, messages } = open(dir, { logger: 'exec cat >> logger.out' });
  const child = runChild(output, [20000, '--pause-at=10000', `--go-file=${go}`]);
  await waitFor(() => lines(out).length === 10000, { timeout: 10000, message: 'first half at the logger' });
  const first = loggerPid();
  assert.ok(first, 'logger running');
  native.kill(first, 'SIGKILL');
  fs.writeFileSync(go, ''); // the service goes on while the logger is down
  await child.exited;
  await waitFor(() => lines(out).length === 20000, { timeout: 10000, message: 'second half at the new logger' });
  const second = loggerPid();
  assert.ok(second && second !== first, 'a new logger');
  assert.deepEqual(numbers(out), Array.from({ length: 20000 }, (_, i) => i + 1));
  assert.equal(output.droppedLines(), 0);
  assert.ok(messages.some((m) => /^logger killed by SIGKILL; starting it again in \d\.\ds$/.test(m)), messages.join('\n'));
  await close(output);
});

test('a logger killed mid-stream: after the restart every later line arrives, none twice or out of order', async (t) => {
  const dir = tmpdir(t);
  const out = path.join(dir, 'logger.out');
  const { output } = open(dir, { logger: 'exec cat >> logger.out' });
  const total = 300000;
  const child = runChild(output, [total]);
  await waitFor(() => fs.existsSync(out) && fs.statSync(out).size > 100_000, { timeout: 10000, message: 'logger busy' });
  native.kill(loggerPid(), 'SIGKILL');
  await child.exited;
  await waitFor(() => numbers(out).at(-1) === total, { timeout: 10000, message: 'last line at the new logger' });
  await close(output);
  // cat reads bytes, not lines: once the pipe holds more than its buffer, a read ends inside
  // a line. So the killed cat's last write may end inside one line and the new cat's first
  // write begin inside another, and the file then holds at most one line spliced from the
  // two (or a tail alone) at that seam: that one line may be dropped, no other.
  const got = numbers(out);
  const seam = seamOfIncreasing(got);
  assert.notEqual(seam, null, `lines out of order or twice beyond the one seam line: ${got.join(' ')}`.slice(0, 2000));
  if (seam >= 0) got.splice(seam, 1);
  // Lines still in the pipe wait there for the next logger; only what the killed one had read
  // and not yet written (one read buffer of cat, 128 KiB) can be lost.
  // Counted in bytes (`out 12345\n` is 10, `out 123456\n` 11): lines are short early on. A
  // read of cat's that began or ended inside a line (cat reads bytes, not lines, once the pipe
  // holds more than its buffer) loses part of that line and so all of it from this count:
  // one line more at each end.
  const seen = new Set(got);
  let missingBytes = 0;
  for (let n = 1; n <= total; n++) if (!seen.has(n)) missingBytes += `out ${n}\n`.length;
  const bound = 128 * 1024 + 2 * `out ${total}\n`.length;
  assert.ok(missingBytes <= bound, `${total - got.length} lines (${missingBytes} bytes) lost with the killed logger, more than ${bound}`);
  assert.equal(output.droppedLines(), 0, 'the buffer bound was not reached');
});

/**
 * Which one entry, removed, leaves `seq` strictly increasing: -1 when it already is, null
 * when no single removal does (NaN, a line that is no `out N`, never counts as increasing).
 */
function seamOfIncreasing(seq) {
  const increasing = (list) => list.every((n, i) => i === 0 || n > list[i - 1]);
  const first = seq.findIndex((n, i) => Number.isNaN(n) || (i > 0 && !(n > seq[i - 1])));
  if (first === -1) return -1;
  for (const drop of [first - 1, first]) {
    if (drop >= 0 && increasing(seq.filter((_, i) => i !== drop))) return drop;
  }
  return null;
}

test('a logger that does not read: bounded buffer, oldest lines dropped and counted, the service never blocked', async (t) => {
  const dir = tmpdir(t);
  const out = path.join(dir, 'logger.out');
  const go = path.join(dir, 'go');
  const { output } = open(dir, {
    log: 'app.log',
    logger: `while [ ! -e ${go} ]; do sleep 0.02; done; exec cat > logger.out`,
    loggerBufferBytes: 64 * 1024,
  });
  // Even if an assertion fails: let the logger go and close, or it outlives this test.
  t.after(async () => {
    if (outputs.has(output)) await close(output); // close() stops the logger (TERM, then KILL)
  });
  // ~2.7 MB: more than the logger's 1 MiB pipe and 64 KiB buffer together can hold.
  const total = 400000;
  const started = Date.now();
  await runChild(output, [total]).exited;
  assert.ok(Date.now() - started < 10000, 'the service finished while the logger read nothing');
  assert.ok(output.droppedLines() > 0, 'lines were dropped');
  fs.writeFileSync(go, '');
  await close(output);
  // Read after close: output still in the service's pipe may have been dropped meanwhile.
  const dropped = output.droppedLines();
  const got = numbers(out);
  assert.equal(got.length + dropped, total, 'every line reached the logger or was counted as dropped');
  assert.equal(got.at(-1), total, 'the newest lines are kept');
  assert.equal(got[0], 1, 'what the pipe already held is delivered');
  for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1]);
  assert.equal(lines(path.join(dir, 'app.log')).length, total, 'the log file missed nothing');
});

test('close with a logger that never reads: every line not delivered is counted, none forgotten', async (t) => {
  const dir = tmpdir(t);
  // Never reads its stdin, ignores end of input: the pipe, the socket's queue and our buffer
  // all still hold lines when close() gives up waiting.
  const { output } = open(dir, { logger: 'exec sleep 30', loggerBufferBytes: 64 * 1024 });
  t.after(async () => {
    if (outputs.has(output)) await close(output);
  });
  const total = 400000;
  await runChild(output, [total]).exited;
  await close(output);
  assert.equal(output.droppedLines(), total, 'the logger got nothing: every line is counted as dropped');
});

test('a logger that keeps dying is started at most once per restart period', async (t) => {
  const dir = tmpdir(t);
  const exits = [];
  const openedAt = performance.now();
  const { output, messages } = open(dir, {
    logger: 'exit 3',
    loggerRestartMs: 200,
    report: (m) => {
      messages.push(m);
      if (m.startsWith('logger exited with code 3')) exits.push(performance.now());
    },
  });
  await waitFor(() => exits.length >= 4, { timeout: 15000, message: 'four exits of the logger' });
  await close(output);
  // Four starts need three restart periods between them, however loaded the machine is: the
  // fourth exit cannot come sooner than 600 ms after the logger was opened.
  assert.ok(exits[3] - openedAt >= 600, `fourth exit ${Math.round(exits[3] - openedAt)} ms after opening`);
  for (const m of messages.filter((m) => m.startsWith('logger exited'))) {
    assert.match(m, /^logger exited with code 3; starting it again in 0\.[0-2]s$/);
  }
});

test('close: a logger that ignores end of input is stopped (TERM) within a bound', async (t) => {
  const dir = tmpdir(t);
  const termed = path.join(dir, 'termed');
  const ready = path.join(dir, 'ready');
  // The shell notes the TERM it gets (a KILL would leave no note) and ignores end of input.
  const { output } = open(dir, { logger: `trap 'echo TERM > ${termed}; exit 0' TERM; touch ${ready}; sleep 30 & wait` });
  await waitFor(() => loggerPid() && fs.existsSync(ready), { timeout: 15000, message: 'logger started' });
  const pid = loggerPid();
  const started = Date.now();
  await close(output);
  const took = Date.now() - started;
  // It first had the whole grace (1 s) to see end of input and exit, then TERM stopped it.
  assert.ok(took >= 900, `stopped after ${took} ms`);
  assert.equal(fs.readFileSync(termed, 'utf8'), 'TERM\n', 'stopped by TERM, not KILL');
  assert.equal(procStat(pid), null, 'logger reaped');
});
