// The config layer stands without the command line: no file outside cli/ imports cli/, and
// immortaldir builds every service's Config from its file alone and never loads the flag
// parser (commander). Node's own module trace
// (NODE_DEBUG=module) names every module a process loads; `immortal` loading commander is the
// control that the trace shows what we look for.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEADLINE_MS, sandbox, waitForStatus } from './cli-helpers.mjs';

const IMMORTALDIR = fileURLToPath(new URL('../dist/cli/immortaldir.js', import.meta.url));
const TRACE = { NODE_DEBUG: 'module' };

/** Module paths the trace shows as loaded (`load "/…/x.js" for module …`). */
function loadedModules(stderr) {
  return [...stderr.matchAll(/MODULE \d+: load "([^"]+)"/g)].map((match) => match[1]);
}

test('immortaldir runs a service from its file without ever loading commander', async (t) => {
  const box = sandbox(t);
  const services = box.path('services');
  fs.mkdirSync(services);
  fs.writeFileSync(path.join(services, 'web.yml'), 'cmd: sleep 3711\nretries: 2\n');
  const proc = spawn(process.execPath, [IMMORTALDIR, services], { env: { ...box.env, ...TRACE }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL'));

  const running = await waitForStatus(box.ctlSocket('web'), (s) => s.pid > 0, { timeout: DEADLINE_MS, message: 'web running under immortaldir' });
  assert.equal(fs.readFileSync(`/proc/${running.pid}/cmdline`, 'utf8'), 'sleep\x003711\x00');
  proc.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });

  const modules = loadedModules(stderr);
  // Loaded by its run.yml reader (immortaldir/config-reader.ts), whose trace shares this stderr.
  assert.ok(modules.some((file) => file.endsWith(path.join('config', 'load.js'))), 'the trace lists the config layer its reader loaded');
  assert.deepEqual(modules.filter((file) => /[/\\]commander[/\\]|[/\\]cli[/\\]flags\.js$/.test(file)), [], 'no commander, no cli/flags.js');
});

test('no file of src/ outside cli/ imports from cli/', () => {
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  const offenders = [];
  for (const file of fs.readdirSync(src, { recursive: true })) {
    if (!file.endsWith('.ts') || file.startsWith(`cli${path.sep}`)) continue;
    const text = fs.readFileSync(path.join(src, file), 'utf8');
    for (const match of text.matchAll(/(?:from|require\()\s*['"]([^'"]+)['"]/g)) {
      const target = path.relative(src, path.resolve(path.dirname(path.join(src, file)), match[1]));
      if (match[1].startsWith('.') && target.split(path.sep)[0] === 'cli') offenders.push(`${file} → ${match[1]}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('immortal -n still parses its flags with commander and supervises', async (t) => {
  const box = sandbox(t);
  // The trace goes to a file: its writes are synchronous. On a pipe that the test reads too
  // slowly, the reading half's last trace lines can still be queued in its process when it
  // re-executes into the supervising half, and are lost with it.
  const traceFile = box.path('trace.log');
  const traceFd = fs.openSync(traceFile, 'w');
  const run = box.start(['-n', '-ctl', 'solo', '-r', '0', 'sleep', '3712'], { env: TRACE, stdio: ['ignore', 'pipe', traceFd] });
  fs.closeSync(traceFd);
  const running = await waitForStatus(box.ctlSocket('solo'), (s) => s.pid > 0, { timeout: DEADLINE_MS, message: 'immortal -n running' });
  assert.equal(fs.readFileSync(`/proc/${running.pid}/cmdline`, 'utf8'), 'sleep\x003712\x00');
  run.kill('SIGTERM');
  await run.waitExit();
  const modules = loadedModules(fs.readFileSync(traceFile, 'utf8'));
  assert.ok(modules.some((file) => /[/\\]commander[/\\]/.test(file)), `the trace shows commander where it is used (${modules.length} loads traced)`);
});
