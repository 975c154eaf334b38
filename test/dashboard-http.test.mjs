// The dashboard over plain node:http, the operator's and the attacker's view: a bare port
// listens on loopback only; bad --http-token-file values stop immortaldir with one line;
// without a token every action is refused, with it only same-origin requests carrying it
// act; the page, the records, the events and /metrics are the same on immortaldir.sock
// (mode 0600); the exposition parses strictly; a stop reaches an open event stream at once.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'node:test';
import { DEADLINE_MS, sandbox, signal, waitFor, waitForStatus } from './cli-helpers.mjs';
import { IMMORTALDIR, httpRequest, pidGone, startDashboard, waitRecord } from './fixtures/dashboard-harness.mjs';
import { parseExposition } from './fixtures/prometheus-text.mjs';

const TOKEN = 'test-token-0123456789abcdef';

test('bad --http-token-file or --http values: one line naming it, exit 1, nothing started', async (t) => {
  const box = sandbox(t);
  const services = box.path('services');
  fs.mkdirSync(services);
  fs.writeFileSync(path.join(services, 'web.yml'), 'cmd: sleep 3700\n');
  const cases = [
    [['--http-token-file', box.path('missing')], /--http-token-file .*missing: cannot read it: ENOENT/],
    [['--http-token-file', box.write('empty', '\n')], /--http-token-file .*empty: the file is empty/],
    [['--http-token-file', box.write('short', 'abc\n')], /--http-token-file .*short: the token has 3 characters/],
    [['--http-token-file', box.path()], /--http-token-file .*: cannot read it: EISDIR/],
    [['--http-token-file'], /--http-token-file needs a value/],
    [['--http', 'nowhere'], /--http "nowhere": expected PORT, HOST:PORT/],
    [['--http', '70000'], /--http "70000": port 70000 is out of range/],
  ];
  for (const [args, expected] of cases) {
    const result = spawnSync(process.execPath, [IMMORTALDIR, services, ...args], { env: box.env, encoding: 'utf8', timeout: DEADLINE_MS });
    assert.equal(result.status, 1, `${args.join(' ')}: ${result.stderr}`);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${result.stderr}`);
    assert.match(lines[0], /^immortaldir: /);
    assert.match(lines[0], expected);
  }
  assert.deepEqual(fs.readdirSync(box.sdir), [], 'no service and no socket was started');
});

test('a port in use: one line, exit 1, no service started', async (t) => {
  const blocker = http.createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const box = sandbox(t);
  fs.mkdirSync(box.path('services'));
  fs.writeFileSync(box.path('services', 'web.yml'), 'cmd: sleep 3701\n');
  const port = blocker.address().port;
  const result = spawnSync(process.execPath, [IMMORTALDIR, box.path('services'), '--http', String(port)], { env: box.env, encoding: 'utf8', timeout: DEADLINE_MS });
  assert.equal(result.status, 1);
  assert.match(result.stderr, new RegExp(`immortaldir: --http 127\\.0\\.0\\.1:${port}: cannot listen: EADDRINUSE`));
  assert.ok(!fs.existsSync(path.join(box.sdir, 'web')), 'web was not started');
});

test('a bare port listens on 127.0.0.1 only; a foreign Host is refused (DNS rebinding)', async (t) => {
  const run = await startDashboard(t, { files: { web: 'cmd: sleep 3702\n' } });
  assert.match(run.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const port = new URL(run.url).port;
  const listening = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').filter((line) => line.includes(`:${Number(port).toString(16).toUpperCase().padStart(4, '0')} `) && / 0A /.test(line));
  assert.equal(listening.length, 1, 'one listening socket on that port');
  assert.match(listening[0], /^\s*\d+: 0100007F:/, 'bound to 127.0.0.1');
  const page = await httpRequest({ url: run.url, path: '/' });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-security-policy'], /default-src 'none'/);
  const rebound = await httpRequest({ url: run.url, path: '/api/services', headers: { Host: `attacker.example:${port}` } });
  assert.equal(rebound.status, 403);
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
    assert.equal((await httpRequest({ url: run.url, path: '/api/services', headers: { Host: host } })).status, 200, host);
  }
});

test('without a token the dashboard is read-only: every POST and the log lines are refused', async (t) => {
  const run = await startDashboard(t, { files: { web: 'cmd: sleep 3703\n' } });
  const web = await waitForStatus(run.serviceSocket('web'), (s) => s.pid > 0);
  for (const action of ['stop', 'start', 'restart', 'KILL', 'HUP']) {
    const reply = await httpRequest({ url: run.url, path: `/api/services/web/${action}`, method: 'POST', headers: { 'X-Immortal-Token': 'anything-at-all-here' } });
    assert.equal(reply.status, 403, action);
    assert.match(JSON.parse(reply.body).Err, /read-only/);
  }
  const log = await httpRequest({ url: run.url, path: '/api/services/web/log' });
  assert.equal(log.status, 403);
  const list = JSON.parse((await httpRequest({ url: run.url, path: '/api/services' })).body);
  assert.equal(list.actions, false);
  assert.equal(list.services[0].pid, web.pid, 'still running, untouched');
  assert.equal(list.services[0].state, 'up');
});

test('with a token: missing or wrong token 401, cross-origin 403, no CORS; same origin + token acts', async (t) => {
  const run = await startDashboard(t, { files: { web: 'cmd: sleep 3704\n' }, token: TOKEN });
  const web = await waitForStatus(run.serviceSocket('web'), (s) => s.pid > 0);
  const host = new URL(run.url).host;
  const post = (headers) => httpRequest({ url: run.url, path: '/api/services/web/stop', method: 'POST', headers });
  assert.equal((await post({})).status, 401);
  assert.equal((await post({ 'X-Immortal-Token': 'wrong-token-0123456789' })).status, 401);
  assert.equal((await post({ Authorization: `Bearer ${TOKEN}` })).status, 401, 'only the header counts, not Authorization');
  assert.equal((await post({ Cookie: `token=${TOKEN}` })).status, 401, 'never a cookie');
  assert.equal((await post({ 'X-Immortal-Token': TOKEN, Origin: 'http://attacker.example' })).status, 403);
  assert.equal((await post({ 'X-Immortal-Token': TOKEN, Origin: 'null' })).status, 403);
  assert.equal((await post({ 'X-Immortal-Token': TOKEN, 'Sec-Fetch-Site': 'cross-site' })).status, 403);
  const preflight = await httpRequest({ url: run.url, path: '/api/services/web/stop', method: 'OPTIONS', headers: { Origin: 'http://attacker.example', 'Access-Control-Request-Method': 'POST' } });
  assert.notEqual(preflight.status, 200);
  assert.equal(preflight.headers['access-control-allow-origin'], undefined);
  assert.equal((await waitForStatus(run.serviceSocket('web'))).pid, web.pid, 'nothing refused has acted');

  const bad = await httpRequest({ url: run.url, path: '/api/services/web/exit', method: 'POST', headers: { 'X-Immortal-Token': TOKEN } });
  assert.equal(bad.status, 400, 'exit (abandon the service) is not a dashboard action');
  const ok = await post({ 'X-Immortal-Token': TOKEN, Origin: `http://${host}`, 'Sec-Fetch-Site': 'same-origin' });
  assert.equal(ok.status, 200, ok.body);
  assert.deepEqual(JSON.parse(ok.body), { Err: '' });
  await pidGone(web.pid);
  await waitRecord(run, 'web', (r) => r.state === 'down' && r.want === 'down');
  const started = await httpRequest({ url: run.url, path: '/api/services/web/start', method: 'POST', headers: { 'X-Immortal-Token': TOKEN } });
  assert.equal(started.status, 200);
  await waitRecord(run, 'web', (r) => r.state === 'up' && r.pid > 0 && r.pid !== web.pid);
  const unknown = await httpRequest({ url: run.url, path: '/api/services/nope/stop', method: 'POST', headers: { 'X-Immortal-Token': TOKEN } });
  assert.equal(unknown.status, 404);
});

test('immortaldir.sock: mode 0600, the same page, records and /metrics; gone after exit', async (t) => {
  const run = await startDashboard(t, { files: { a: 'cmd: sleep 3705\n', b: 'cmd: sleep 3706\n' }, token: TOKEN });
  await waitForStatus(run.serviceSocket('a'), (s) => s.pid > 0);
  await waitForStatus(run.serviceSocket('b'), (s) => s.pid > 0);
  const stat = fs.lstatSync(run.socketPath);
  assert.ok(stat.isSocket());
  assert.equal(stat.mode & 0o777, 0o600);
  const viaSocket = await httpRequest({ socketPath: run.socketPath, path: '/', headers: { Host: 'dashboard.example.org' } });
  const viaTcp = await httpRequest({ url: run.url, path: '/' });
  assert.equal(viaSocket.status, 200, 'no loopback Host rule on the socket: nginx passes its own Host');
  assert.equal(viaSocket.body, viaTcp.body);
  const records = JSON.parse((await httpRequest({ socketPath: run.socketPath, path: '/api/services' })).body);
  assert.deepEqual(records.services.map((r) => [r.name, r.state]), [['a', 'up'], ['b', 'up']]);
  const metrics = await httpRequest({ socketPath: run.socketPath, path: '/metrics' });
  assert.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const parsed = parseExposition(metrics.body);
  assert.deepEqual([...new Set(parsed.samples.map((s) => s.labels.service))].sort(), ['a', 'b']);
  // Same POST rules as TCP.
  assert.equal((await httpRequest({ socketPath: run.socketPath, path: '/api/services/a/stop', method: 'POST' })).status, 401);
  assert.deepEqual(await run.stop(), { code: 0, signal: null });
  assert.ok(!fs.existsSync(run.socketPath), 'socket removed at exit');
});

test('/metrics of the directory: one strict exposition whose lines are each service socket\'s own', async (t) => {
  const run = await startDashboard(t, { files: { up1: 'cmd: sleep 3707\n', crash: 'cmd: /bin/false\n', stopped: 'cmd: sleep 3708\n' } });
  await waitForStatus(run.serviceSocket('up1'), (s) => s.pid > 0);
  await waitForStatus(run.serviceSocket('stopped'), (s) => s.pid > 0);
  await signal(run.serviceSocket('stopped'), 'down');
  await waitRecord(run, 'stopped', (r) => r.state === 'down');
  await waitRecord(run, 'crash', (r) => r.lastExit?.code === 1);
  const all = parseExposition((await httpRequest({ url: run.url, path: '/metrics' })).body);
  assert.ok(all.families.size >= 10, 'every family');
  for (const [name, family] of all.families) assert.ok(family.help && family.type, `${name} has HELP and TYPE`);
  assert.ok(all.samples.some((s) => s.name === 'immortal_last_exit_code' && s.labels.service === 'crash' && s.value === 1));
  assert.ok(all.samples.some((s) => s.name === 'immortal_up' && s.labels.service === 'stopped' && s.value === 0));
  // The renderer is shared: a service's own /metrics has the same HELP/TYPE text.
  const own = parseExposition((await httpRequest({ socketPath: run.serviceSocket('up1'), path: '/metrics' })).body);
  for (const [name, family] of own.families) assert.deepEqual(all.families.get(name), family, name);
  assert.deepEqual(parseExposition((await (async () => {
    const empty = await startDashboard(t, {});
    return httpRequest({ url: empty.url, path: '/metrics' });
  })()).body).samples, [], 'no service: families only, still valid');
});

test('events: a snapshot, then a stop, an added and a removed service arrive without asking', async (t) => {
  const run = await startDashboard(t, { files: { web: 'cmd: sleep 3709\n' } });
  const web = await waitForStatus(run.serviceSocket('web'), (s) => s.pid > 0);
  const stream = openEvents(run.url);
  t.after(() => stream.close());
  const snapshot = await stream.next('snapshot');
  assert.deepEqual(snapshot.services.map((r) => r.name), ['web']);
  assert.equal(snapshot.actions, false);

  await signal(run.serviceSocket('web'), 'down');
  // When the socket first says down, the page must hear it within 1 s.
  const downSeen = await waitFor(async () => ((await waitForStatus(run.serviceSocket('web'))).pid === 0 ? Date.now() : 0), { timeout: DEADLINE_MS });
  const change = await stream.next('change', (d) => d.upsert.some((r) => r.name === 'web' && r.state === 'down'));
  t.diagnostic(`stop reached the event stream ${Date.now() - downSeen} ms after the socket showed it`);
  assert.ok(Date.now() - downSeen < 1000, 'within 1 s');
  assert.equal(change.upsert.find((r) => r.name === 'web').lastExit.signal, 'SIGTERM');
  await pidGone(web.pid);

  run.write('extra', 'cmd: sleep 3710\n');
  await stream.next('change', (d) => d.upsert.some((r) => r.name === 'extra'));
  await waitForStatus(run.serviceSocket('extra'), (s) => s.pid > 0);
  run.remove('extra');
  await stream.next('change', (d) => d.remove.includes('extra'));
});

/** A minimal EventSource over node:http: next(type, pred) resolves with the next matching data. */
function openEvents(url) {
  const queue = [];
  const waiters = [];
  let buffer = '';
  const req = http.get(new URL('/events', url), (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type && data) queue.push({ type, data: JSON.parse(data) });
      }
      for (const w of [...waiters]) w();
    });
  });
  req.on('error', () => {});
  return {
    next(type, pred = () => true) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} event within ${DEADLINE_MS} ms`)), DEADLINE_MS);
        const check = () => {
          while (queue.length > 0) {
            const e = queue.shift();
            if (e.type === type && pred(e.data)) {
              clearTimeout(timer);
              waiters.splice(waiters.indexOf(check), 1);
              resolve(e.data);
              return;
            }
          }
        };
        waiters.push(check);
        check();
      });
    },
    close: () => req.destroy(),
  };
}

