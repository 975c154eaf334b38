// The control socket as an operator (curl, nginx, immortalctl) sees it: exact JSON bytes,
// every signal name, keep-alive, errors, socket hygiene, peer credentials and metrics.

import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { formatDuration } from '../dist/control/duration.js';
import { statusJson } from '../dist/control/status.js';
import { SIGNAL_TABLE, dispatchSignal } from '../dist/control/signals.js';
import { renderMetrics } from '../dist/control/metrics.js';
import { startControlServer } from '../dist/control/server.js';
import { answerOneShot, parseOneShotGet } from '../dist/control/quick-answer.js';
import { listenUnix, peekConnection } from '../dist/native.js';
import { ControlError, closeClients, getStatus, sendSignal } from '../dist/control/client.js';
import {
  makeTempDir, rawRequest, removeTempDirs, startFake, stopAll, withDeadline,
} from './fixtures/control-harness.mjs';

after(async () => {
  closeClients();
  await stopAll();
  removeTempDirs();
});

function snapshot(overrides = {}) {
  return {
    pid: 0, running: false, since: 0, cmd: 'sleep 10', fpid: false, count: 0, want: 'up',
    startFailures: 0, backoffMs: 0, logDroppedLines: 0, ...overrides,
  };
}

/** An in-process ServiceControl that records every call. */
function recordingService(overrides = {}) {
  const calls = [];
  const service = {
    name: 'web',
    superviseDir: '/nonexistent',
    ownerUid: process.getuid(),
    snapshot: () => snapshot({ pid: 42, running: true, since: Date.now() - 1000, count: 1 }),
    usage: () => ({ processes: 3, memoryBytes: 12582912, cpuSeconds: 1.5 }),
    up: () => { calls.push('up'); return ''; },
    down: () => { calls.push('down'); return ''; },
    once: () => { calls.push('once'); return ''; },
    signal: (sig) => { calls.push(sig); return ''; },
    halt: () => { calls.push('halt'); return ''; },
    exit: () => { calls.push('exit'); return ''; },
    ...overrides,
  };
  return { service, calls };
}

// Every name of SPEC §3 and what it must do; written out by hand, not derived from the table.
const EXPECTED_SIGNALS = [
  [['u', 'up', 'start'], 'up'],
  [['d', 'down', 'stop'], 'down'],
  [['o', 'once'], 'once'],
  [['t', 'term', 'TERM'], 'SIGTERM'],
  [['h', 'hup', 'HUP'], 'SIGHUP'],
  [['i', 'int', 'INT'], 'SIGINT'],
  [['q', 'quit', 'QUIT'], 'SIGQUIT'],
  [['a', 'alrm', 'ALRM'], 'SIGALRM'],
  [['c', 'cont', 'CONT'], 'SIGCONT'],
  [['1', 'usr1', 'USR1'], 'SIGUSR1'],
  [['2', 'usr2', 'USR2'], 'SIGUSR2'],
  [['w', 'winch', 'WINCH'], 'SIGWINCH'],
  [['in', 'ttin', 'TTIN'], 'SIGTTIN'],
  [['ou', 'ttou', 'TTOU'], 'SIGTTOU'],
  [['s', 'STOP'], 'SIGSTOP'],
  [['k', 'kill', 'KILL'], 'SIGKILL'],
  [['halt', 'restart'], 'halt'],
  [['x', 'exit'], 'exit'],
];

describe('duration format (the original AbsSince)', () => {
  const cases = [
    [0, '0.0s'], [49, '0.0s'], [50, '0.1s'], [7_900, '7.9s'], [7_949, '7.9s'], [7_950, '8.0s'],
    [59_960, '1m0.0s'], [61_000, '1m1.0s'], [3_723_400, '1h2m3.4s'], [3_600_500, '1h0.5s'],
    [86_399_950, '1d0.0s'], [2 * 86_400_000 + 1_000, '2d1.0s'],
    [2 * 86_400_000 + 3 * 3_600_000 + 1_000, '2d3h1.0s'], [-5_000, '0.0s'],
  ];
  for (const [ms, text] of cases) {
    test(`${ms} ms → ${text}`, () => assert.equal(formatDuration(ms), text));
  }
});

describe('status JSON bytes', () => {
  const now = 1_700_000_000_000;
  test('running: pid, up, cmd, fpid, count in that order, with Go\'s trailing newline', () => {
    const json = statusJson(snapshot({ pid: 6940, running: true, since: now - 7_900, cmd: './stdout', count: 4 }), now);
    assert.equal(json, '{"pid":6940,"up":"7.9s","cmd":"./stdout","fpid":false,"count":4}\n');
  });
  test('down counts from the last exit', () => {
    const json = statusJson(snapshot({ since: now - 3_723_400, cmd: './stdout', count: 2 }), now);
    assert.equal(json, '{"pid":0,"down":"1h2m3.4s","cmd":"./stdout","fpid":false,"count":2}\n');
  });
  test('before the first start: neither up nor down, and the status note last', () => {
    const json = statusJson(snapshot({ cmd: 'sleep 1', note: 'Starting in 1.5 seconds' }), now);
    assert.equal(json, '{"pid":0,"cmd":"sleep 1","fpid":false,"count":0,"status":"Starting in 1.5 seconds"}\n');
  });
  test('following a pid', () => {
    const json = statusJson(snapshot({ pid: 77, running: true, since: now - 100, fpid: true, count: 1, cmd: 'unicorn' }), now);
    assert.equal(json, '{"pid":77,"up":"0.1s","cmd":"unicorn","fpid":true,"count":1}\n');
  });
  test('<, > and & are escaped as Go\'s json.Encoder does', () => {
    const json = statusJson(snapshot({ cmd: 'sh -c a>b&c<d' }), now);
    assert.equal(json, '{"pid":0,"cmd":"sh -c a\\u003eb\\u0026c\\u003cd","fpid":false,"count":0}\n');
  });
});

describe('signal table', () => {
  test('has exactly the names of SPEC §3', () => {
    const ours = SIGNAL_TABLE.flatMap((row) => row.names).sort();
    const expected = EXPECTED_SIGNALS.flatMap(([names]) => names).sort();
    assert.deepEqual(ours, expected);
  });
  for (const [names, effect] of EXPECTED_SIGNALS) {
    test(`${names.join(' ')} → ${effect}`, () => {
      for (const name of names) {
        const { service, calls } = recordingService();
        assert.equal(dispatchSignal(service, name), '');
        assert.deepEqual(calls, [effect], `name ${name}`);
      }
    });
  }
  test('unknown and wrongly-cased names are refused without side effects', () => {
    const { service, calls } = recordingService();
    assert.equal(dispatchSignal(service, 'bogus'), 'unknown signal: bogus');
    assert.equal(dispatchSignal(service, 'Term'), 'unknown signal: Term');
    assert.deepEqual(calls, []);
  });
  test('the service\'s refusal is passed through', () => {
    const { service } = recordingService({ exit: () => 'set environment variable IMMORTAL_EXIT to exit' });
    assert.equal(dispatchSignal(service, 'x'), 'set environment variable IMMORTAL_EXIT to exit');
  });
});

describe('metrics rendering', () => {
  const now = 1_700_000_010_000;
  const text = renderMetrics([
    { name: 'web', snapshot: snapshot({ pid: 5, running: true, since: now - 2_500, count: 3, backoffMs: 2_000, restarts: { memory: 2 } }),
      usage: { processes: 3, memoryBytes: 12582912, cpuSeconds: 1.5 } },
    { name: 'odd"name\\', snapshot: snapshot({ since: now - 1_000, count: 1, lastExit: { code: null, signal: 'SIGTERM', at: 1_700_000_009_000 } }) },
  ], now);

  test('every line is a HELP/TYPE comment or name{labels} value', () => {
    const lines = text.split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    for (const line of lines) {
      assert.match(line, /^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+\{service="(?:[^"\\]|\\.)*"(?:,cause="[a-z]+")?\} -?[0-9.e+]+)$/, line);
    }
  });
  test('values', () => {
    assert.match(text, /^immortal_up\{service="web"\} 1$/m);
    assert.match(text, /^immortal_uptime_seconds\{service="web"\} 2\.5$/m);
    assert.match(text, /^immortal_backoff_seconds\{service="web"\} 2$/m);
    assert.match(text, /^immortal_starts_total\{service="web"\} 3$/m);
    assert.match(text, /^immortal_log_write_error\{service="web"\} 0$/m);
    assert.match(text, /^immortal_service_processes\{service="web"\} 3$/m);
    assert.match(text, /^immortal_service_memory_bytes\{service="web"\} 12582912$/m);
    assert.match(text, /^immortal_service_cpu_seconds_total\{service="web"\} 1\.5$/m);
    assert.match(text, /^immortal_restarts_total\{service="web",cause="memory"\} 2$/m);
    assert.match(text, /^immortal_restarts_total\{service="web",cause="health"\} 0$/m, 'every cause from 0');
    assert.match(text, /^immortal_last_exit_code\{service="odd\\"name\\\\"\} 143$/m);
    assert.match(text, /^immortal_last_exit_timestamp_seconds\{service="odd\\"name\\\\"\} 1700000009$/m);
    assert.doesNotMatch(text, /immortal_last_exit_code\{service="web"\}/, 'no exit yet → no sample');
  });
  test('every family has HELP and TYPE once', () => {
    for (const family of ['immortal_starts_total', 'immortal_up', 'immortal_following', 'immortal_last_exit_code',
      'immortal_last_exit_timestamp_seconds', 'immortal_uptime_seconds', 'immortal_start_failures_total',
      'immortal_backoff_seconds', 'immortal_log_dropped_lines_total', 'immortal_log_write_error',
      'immortal_service_processes', 'immortal_service_memory_bytes', 'immortal_service_cpu_seconds_total',
      'immortal_restarts_total']) {
      assert.equal(text.split(`# HELP ${family} `).length, 2, family);
      assert.equal(text.split(`# TYPE ${family} `).length, 2, family);
    }
  });
});

describe('the socket of a running supervisor', () => {
  let fake;
  before(async () => {
    const dir = path.join(makeTempDir(), 'web');
    fake = await startFake(dir, {
      pid: 6940, running: true, upForMs: 7_900, cmd: './stdout', count: 4,
      results: { halt: 'halt refused by test', exit: 'set environment variable IMMORTAL_EXIT to exit' },
    });
  });
  after(() => fake.stop());

  test('GET / and GET /status answer the exact JSON with Content-Type application/json', async () => {
    for (const route of ['/', '/status']) {
      const res = await rawRequest(fake.socketPath, route);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.body, '{"pid":6940,"up":"7.9s","cmd":"./stdout","fpid":false,"count":4}\n');
    }
  });

  test('the Go client\'s doubled slashes (//, //signal/x) work', async () => {
    assert.match((await rawRequest(fake.socketPath, '//')).body, /^\{"pid":6940,/);
    assert.equal((await rawRequest(fake.socketPath, '//signal/hup')).body, '{"Err":""}\n');
  });

  test('a proxy\'s absolute-form request and a query string are routed by path', async () => {
    const socket = net.connect(fake.socketPath);
    try {
      const responses = readResponses(socket);
      socket.write('GET http://immortal/status?x=1 HTTP/1.1\r\nHost: immortal\r\n\r\n');
      assert.match((await withDeadline(responses.next(), 'response')).value, /\r\n\r\n\{"pid":6940,/);
    } finally {
      socket.destroy();
    }
  });

  test('keep-alive: two requests reuse one connection (Node agent)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await rawRequest(fake.socketPath, '/status', { agent });
      const second = await rawRequest(fake.socketPath, '/metrics', { agent });
      assert.equal(first.headers.connection, 'keep-alive');
      assert.equal(second.statusCode, 200);
      assert.equal(first.socket, second.socket, 'same socket object reused');
    } finally {
      agent.destroy();
    }
  });

  test('keep-alive: two requests written on one raw connection both answer', async () => {
    const socket = net.connect(fake.socketPath);
    try {
      const responses = readResponses(socket);
      socket.write('GET /status HTTP/1.1\r\nHost: x\r\n\r\n');
      const first = await withDeadline(responses.next(), 'first response');
      socket.write('GET /signal/usr1 HTTP/1.1\r\nHost: x\r\n\r\n');
      const second = await withDeadline(responses.next(), 'second response');
      assert.match(first.value, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(first.value, /\r\n\r\n\{"pid":6940,/);
      assert.match(second.value, /\r\n\r\n\{"Err":""\}\n$/);
    } finally {
      socket.destroy();
    }
  });

  test('every signal name reaches the right method', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const [names, effect] of EXPECTED_SIGNALS) {
        for (const name of names) {
          const before = fake.actions().length;
          const res = await rawRequest(fake.socketPath, `/signal/${name}`, { agent });
          assert.equal(res.headers['content-type'], 'application/json');
          const expectedErr = { halt: 'halt refused by test', exit: 'set environment variable IMMORTAL_EXIT to exit' }[effect] ?? '';
          assert.equal(res.body, `${JSON.stringify({ Err: expectedErr })}\n`, name);
          const recorded = fake.actions().slice(before);
          const expected = effect.startsWith('SIG') ? { action: 'signal', detail: effect } : { action: effect };
          assert.deepEqual(recorded, [expected], `name ${name}`);
        }
      }
    } finally {
      agent.destroy();
    }
  });

  test('unknown signal name → {"Err":"unknown signal: NAME"}', async () => {
    const res = await rawRequest(fake.socketPath, '/signal/bogus');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '{"Err":"unknown signal: bogus"}\n');
  });

  test('other paths → 404 JSON, other methods → 405 JSON', async () => {
    const missing = await rawRequest(fake.socketPath, '/nope');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.headers['content-type'], 'application/json');
    assert.equal(missing.body, '{"Err":"not found: /nope"}\n');
    const post = await rawRequest(fake.socketPath, '/signal/t', { method: 'POST' });
    assert.equal(post.statusCode, 405);
    assert.equal(post.headers.allow, 'GET');
    assert.equal(post.body, '{"Err":"method not allowed: POST"}\n');
    const head = await rawRequest(fake.socketPath, '/signal/t', { method: 'HEAD' });
    assert.equal(head.statusCode, 405, 'HEAD must not send a signal');
  });

  test('GET /metrics is Prometheus text 0.0.4', async () => {
    const res = await rawRequest(fake.socketPath, '/metrics');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    for (const line of res.body.trimEnd().split('\n')) {
      assert.match(line, /^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+\{service="web"(?:,cause="[a-z]+")?\} -?[0-9.e+]+)$/, line);
    }
    assert.match(res.body, /^immortal_starts_total\{service="web"\} 4$/m);
    assert.match(res.body, /^immortal_up\{service="web"\} 1$/m);
  });

  test('the socket file is private (0600) by default', () => {
    assert.equal(fs.statSync(fake.socketPath).mode & 0o777, 0o600);
  });

  test('a second server on the same live socket is refused; the first keeps serving', async () => {
    const { service } = recordingService();
    await assert.rejects(startControlServer(service, { socketPath: fake.socketPath }), /another supervisor is listening/);
    assert.equal((await rawRequest(fake.socketPath, '/')).statusCode, 200);
  });

  test('a one-shot query gets node:http\'s answer byte for byte (but the Date); split requests are still served', async () => {
    for (const route of ['/', '/status', '/service']) {
      for (const request of [`GET ${route} HTTP/1.0\r\nHost: immortal\r\n`, `GET ${route} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`]) {
        const quick = withoutDate(await exchange(fake.socketPath, `${request}\r\n`));
        // A Content-Length makes it no one-shot query: node:http answers it.
        const slow = withoutDate(await exchange(fake.socketPath, `${request}Content-Length: 0\r\n\r\n`));
        const [quickHead, quickBody] = quick.split('\r\n\r\n');
        const [slowHead, slowBody] = slow.split('\r\n\r\n');
        assert.equal(quickHead, slowHead, request);
        // /service carries since/uptime in ms and tenths: the two requests may straddle a change.
        const comparable = (body) => (route === '/service' ? { ...JSON.parse(body), since: 0, uptime: 0 } : body);
        assert.deepEqual(comparable(quickBody), comparable(slowBody), request);
      }
    }
    // The head arriving in two writes (held until the first, then node:http waits for the rest).
    const split = await exchange(fake.socketPath, '', { parts: ['GET /status HTTP/1.0\r\n', 'Host: x\r\n\r\n'], gapMs: 50 });
    assert.match(split, /\r\n\r\n\{"pid":6940,"up":"7\.9s","cmd":".\/stdout","fpid":false,"count":4\}\n$/);
  });

  test('client: getStatus and sendSignal parse the answers', async () => {
    assert.deepEqual(await getStatus(fake.socketPath), { pid: 6940, up: '7.9s', cmd: './stdout', fpid: false, count: 4 });
    assert.deepEqual(await sendSignal(fake.socketPath, 'nope'), { Err: 'unknown signal: nope' });
  });
});

/** Writes `request` as soon as connected (in `parts`, `gapMs` apart) and resolves with all it reads until the server closes. */
function exchange(socketPath, request, { parts = [request], gapMs = 0 } = {}) {
  return withDeadline(new Promise((resolve, reject) => {
    let text = '';
    const socket = net.connect(socketPath, async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((wake) => setTimeout(wake, gapMs));
        socket.write(part);
      }
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { text += chunk; });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  }), `exchange ${JSON.stringify(request)}`);
}

/** A response with its Date value masked (it is the one header that may differ by a second). */
function withoutDate(response) {
  assert.match(response, /\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/);
  return response.replace(/\r\nDate: [^\r]*\r\n/, '\r\nDate: -\r\n');
}

describe('one-shot queries answered without node:http (quick-answer.ts)', () => {
  test('what counts as one: a whole GET with no body that closes after the answer', () => {
    const ok = (head) => parseOneShotGet(head);
    for (const [head, target, host] of [
      ['GET /status HTTP/1.0\r\nHost: immortal\r\n\r\n', '/status', 'immortal'],
      ['GET / HTTP/1.1\r\nhost: s\r\nConnection: close\r\n\r\n', '/', 's'],
      ['GET //service HTTP/1.1\r\nConnection: TE, Close\r\n\r\n', '//service', undefined],
    ]) assert.deepEqual(ok(head), { target, host, length: head.length });
    for (const head of [
      'GET /status HTTP/1.1\r\nHost: x\r\n\r\n', // keep-alive by default in 1.1
      'GET /status HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
      'HEAD /status HTTP/1.0\r\n\r\n',
      'POST /status HTTP/1.0\r\n\r\n',
      'GET /status HTTP/1.0\r\nContent-Length: 0\r\n\r\n',
      'GET /status HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET /status HTTP/1.0\r\nHost: x\r\n', // the head has not ended yet
      'GET /status HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n', // more than one request
      'GET /status HTTP/1.0\r\n folded: value\r\n\r\n',
      'GET /status HTTP/2.0\r\n\r\n',
      'GET  /status HTTP/1.0\r\n\r\n',
      '',
    ]) assert.equal(ok(head), undefined, JSON.stringify(head));
  });

  test('answered on the accepted fd and closed; anything else is declined with its bytes still queued', async (t) => {
    const socketPath = path.join(makeTempDir(), 'q.sock');
    const accepted = [];
    const listener = listenUnix(socketPath, { bindUmask: 0o177 }, (connection) => accepted.push(connection));
    t.after(() => listener.close());
    const { service } = recordingService();
    const ctx = { service, closing: () => false, peerOf: () => undefined };
    const next = async () => {
      await withDeadline((async () => { while (accepted.length === 0) await new Promise((wake) => setTimeout(wake, 5)); })(), 'a connection');
      return accepted.shift();
    };

    const answered = exchange(socketPath, 'GET /status HTTP/1.0\r\n\r\n');
    assert.equal(answerOneShot((await next()).fd, ctx), true);
    const response = await answered;
    const body = '{"pid":42,"up":"1.0s","cmd":"sleep 10","fpid":false,"count":1}\n';
    assert.equal(withoutDate(response), `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nDate: -\r\nConnection: close\r\n\r\n${body}`);

    for (const request of ['GET /status HTTP/1.1\r\n\r\n', 'GET /signal/term HTTP/1.0\r\n\r\n', 'GET /metrics HTTP/1.0\r\n\r\n']) {
      const client = net.connect(socketPath, () => client.write(request));
      client.on('error', () => {}); // closed below with its request unread: a reset
      t.after(() => client.destroy());
      const { fd } = await next();
      assert.equal(answerOneShot(fd, ctx), false, request);
      const queued = Buffer.alloc(256);
      assert.equal(queued.toString('latin1', 0, peekConnection(fd, queued)), request, 'left as it was');
      fs.closeSync(fd);
    }
  });
});

/** Yields each complete HTTP response (headers + Content-Length body) read from socket. */
async function* readResponses(socket) {
  let buffered = '';
  const waiters = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => { buffered += chunk; waiters.splice(0).forEach((wake) => wake()); });
  for (;;) {
    const headerEnd = buffered.indexOf('\r\n\r\n');
    const length = headerEnd >= 0 ? Number(/content-length: (\d+)/i.exec(buffered.slice(0, headerEnd))?.[1] ?? 0) : -1;
    if (headerEnd >= 0 && buffered.length >= headerEnd + 4 + length) {
      const response = buffered.slice(0, headerEnd + 4 + length);
      buffered = buffered.slice(response.length);
      yield response;
    } else {
      await new Promise((resolve) => waiters.push(resolve));
    }
  }
}

describe('socket file lifecycle', () => {
  test('a stale socket left by a killed supervisor is replaced', async () => {
    const dir = path.join(makeTempDir(), 'app');
    const first = await startFake(dir, { pid: 1, running: true, upForMs: 0 });
    await first.kill9();
    assert.ok(fs.lstatSync(first.socketPath).isSocket(), 'SIGKILL leaves the socket file behind');
    await assert.rejects(getStatus(first.socketPath), (err) => err instanceof ControlError && err.kind === 'stale');
    const second = await startFake(dir, { pid: 2, running: true, upForMs: 0 });
    try {
      assert.match((await rawRequest(second.socketPath, '/')).body, /^\{"pid":2,/);
    } finally {
      await second.stop();
    }
    assert.equal(fs.existsSync(second.socketPath), false, 'clean exit removes the socket');
  });

  test('a path that is not a socket is never replaced', async () => {
    const socketPath = path.join(makeTempDir(), 'immortal.sock');
    fs.writeFileSync(socketPath, 'precious');
    const { service } = recordingService();
    await assert.rejects(startControlServer(service, { socketPath }), /not a socket/);
    assert.equal(fs.readFileSync(socketPath, 'utf8'), 'precious');
  });

  test('mode, statusOpen and gid options', async () => {
    const dir = makeTempDir();
    const { service } = recordingService();
    const cases = [[{}, 0o600], [{ statusOpen: true }, 0o666], [{ mode: 0o660, gid: process.getgid() }, 0o660]];
    for (const [options, mode] of cases) {
      const socketPath = path.join(dir, 'immortal.sock');
      const umaskBefore = process.umask(0o022);
      const server = await startControlServer(service, { socketPath, ...options });
      assert.equal(process.umask(umaskBefore), 0o022, 'the private umask around bind() is restored');
      try {
        const stat = fs.statSync(socketPath);
        assert.equal(stat.mode & 0o777, mode, JSON.stringify(options));
        assert.equal(stat.gid, process.getgid());
      } finally {
        await server.close();
      }
      assert.equal(fs.existsSync(socketPath), false);
    }
  });

  test('chmod, chown and a hard link keep the socket ours (reported once each), and its mode as set', async () => {
    const socketPath = path.join(makeTempDir(), 'immortal.sock');
    const { service } = recordingService();
    const server = await startControlServer(service, { socketPath });
    try {
      assert.deepEqual(server.checkSocketFile(), { kind: 'ours' });
      fs.chmodSync(socketPath, 0o660);
      assert.deepEqual(server.checkSocketFile(), { kind: 'ours-changed', mode: 0o660, uid: process.getuid(), gid: process.getgid(), nlink: 1 });
      assert.deepEqual(server.checkSocketFile(), { kind: 'ours' }, 'the change is taken as the new normal');
      fs.chownSync(socketPath, process.getuid(), process.getgid());
      assert.equal(server.checkSocketFile().kind, 'ours-changed');
      fs.linkSync(socketPath, `${socketPath}.link`);
      assert.deepEqual(server.checkSocketFile(), { kind: 'ours-changed', mode: 0o660, uid: process.getuid(), gid: process.getgid(), nlink: 2 });
      fs.unlinkSync(`${socketPath}.link`);
      assert.equal(server.checkSocketFile().kind, 'ours-changed');
      assert.equal(fs.statSync(socketPath).mode & 0o777, 0o660, 'the operator\'s mode stays');
      assert.equal((await rawRequest(socketPath, '/')).statusCode, 200);
    } finally {
      await server.close();
    }
    assert.equal(fs.existsSync(socketPath), false, 'still ours at close: removed');
  });

  test('a successor\'s socket on the reused inode number is not ours and is never removed', async () => {
    const socketPath = path.join(makeTempDir(), 'immortal.sock');
    const { service } = recordingService();
    const server = await startControlServer(service, { socketPath });
    const ours = fs.lstatSync(socketPath);
    fs.unlinkSync(socketPath);
    const successor = http.createServer((req, res) => res.end('{"pid":4242}\n'));
    const probed = new Promise((resolve) => successor.once('request', (req) => resolve(req)));
    await new Promise((resolve) => successor.listen(socketPath, resolve));
    try {
      const theirs = fs.lstatSync(socketPath);
      // ext4 and others hand the freed inode number straight to the next file; then only the
      // probe can tell. Elsewhere the inode differs and the answer is the same.
      const inodeReused = theirs.ino === ours.ino && theirs.dev === ours.dev;
      assert.deepEqual(server.checkSocketFile(), { kind: 'not-ours' });
      if (inodeReused) {
        const probe = await withDeadline(probed, 'the probe at the successor');
        assert.equal(probe.method, 'HEAD', 'a harmless request');
        assert.match(probe.headers['x-immortal-probe'], /^[0-9a-f]{32}$/, 'the probe landed on the successor');
      }
      await server.close();
      assert.equal(fs.lstatSync(socketPath).ino, theirs.ino, 'the successor\'s socket is still there');
      assert.equal((await rawRequest(socketPath, '/')).body, '{"pid":4242}\n');
    } finally {
      await server.close();
      successor.closeAllConnections();
      await new Promise((resolve) => successor.close(resolve));
    }
  });

  test('a failing service method answers 500 with a JSON error', async () => {
    const socketPath = path.join(makeTempDir(), 'immortal.sock');
    const { service } = recordingService({ snapshot: () => { throw new Error('boom'); } });
    const server = await startControlServer(service, { socketPath });
    try {
      const res = await rawRequest(socketPath, '/status');
      assert.equal(res.statusCode, 500);
      assert.equal(res.body, '{"Err":"internal error: boom"}\n');
    } finally {
      await server.close();
    }
  });

  test('close() ends idle keep-alive connections at once', async () => {
    const socketPath = path.join(makeTempDir(), 'immortal.sock');
    const { service } = recordingService();
    const server = await startControlServer(service, { socketPath });
    const agent = new http.Agent({ keepAlive: true });
    try {
      await rawRequest(socketPath, '/', { agent });
      const started = Date.now();
      await withDeadline(server.close(), 'close with an idle keep-alive connection', 3000);
      assert.ok(Date.now() - started < 1000, 'did not wait for the keep-alive timeout');
    } finally {
      agent.destroy();
    }
  });

  test('halt that closes the server from inside its handler still gets its answer', async () => {
    const socketPath = path.join(makeTempDir(), 'immortal.sock');
    let server;
    let closed;
    const { service } = recordingService({ halt: () => { closed = server.close(); return ''; } });
    server = await startControlServer(service, { socketPath });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const res = await rawRequest(socketPath, '/signal/halt', { agent });
      assert.equal(res.body, '{"Err":""}\n');
      assert.equal(res.headers.connection, 'close');
      await withDeadline(closed, 'close after halt', 3000);
      assert.equal(fs.existsSync(socketPath), false);
    } finally {
      agent.destroy();
    }
  });

  test('client errors: missing socket and timeout are typed', async () => {
    const dir = makeTempDir();
    await assert.rejects(getStatus(path.join(dir, 'none.sock')), (err) => err.kind === 'missing');
    const silentPath = path.join(dir, 'silent.sock');
    const accepted = new Set();
    const silent = net.createServer((socket) => accepted.add(socket)).listen(silentPath);
    await new Promise((resolve) => silent.once('listening', resolve));
    try {
      await assert.rejects(getStatus(silentPath, 100), (err) => err instanceof ControlError && err.kind === 'timeout');
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('client: one pooled connection per socket, never mixed between sockets', async () => {
    const dir = makeTempDir();
    const servers = [];
    const connections = [0, 0];
    try {
      for (const index of [0, 1]) {
        const server = http.createServer((req, res) => res.end(JSON.stringify({ pid: index + 100 })));
        server.on('connection', () => { connections[index] += 1; });
        const socketPath = path.join(dir, `s${index}.sock`);
        await new Promise((resolve) => server.listen(socketPath, resolve));
        servers.push({ server, socketPath });
      }
      for (let round = 0; round < 3; round += 1) {
        for (const [index, { socketPath }] of servers.entries()) {
          assert.equal((await getStatus(socketPath)).pid, index + 100);
        }
      }
      assert.deepEqual(connections, [1, 1]);
    } finally {
      closeClients();
      for (const { server } of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });
});

describe('peer credentials', () => {
  const isRoot = process.getuid() === 0;
  const testUser = 'immortal_ctltest';
  let otherUid;
  let otherGid;

  before(() => {
    if (!isRoot) return;
    try {
      execFileSync('useradd', ['-M', '-r', testUser], { stdio: 'pipe' });
    } catch (err) {
      if (!String(err.stderr).includes('already exists')) throw err;
    }
    otherUid = Number(execFileSync('id', ['-u', testUser], { encoding: 'utf8' }).trim());
    otherGid = Number(execFileSync('id', ['-g', testUser], { encoding: 'utf8' }).trim());
  });
  after(() => {
    if (isRoot) execFileSync('userdel', [testUser], { stdio: 'ignore' });
  });

  /** GETs a path as another uid (a separate node process) and returns {status, body}. */
  async function requestAs(uid, gid, socketPath, requestPath) {
    const script = `
      const http = require('node:http');
      http.get({ socketPath: process.argv[1], path: process.argv[2] }, (res) => {
        let body = ''; res.on('data', (c) => { body += c; });
        res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body })));
      }).on('error', (err) => { process.stdout.write(JSON.stringify({ error: err.code })); });`;
    const child = spawn(process.execPath, ['-e', script, socketPath, requestPath], { uid, gid, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    await withDeadline(new Promise((resolve) => child.once('close', resolve)), `request as uid ${uid}`);
    return JSON.parse(out);
  }

  // As root the peer is a real second user; otherwise we are the stranger to a fake owner.
  test('root and the owner may signal; another uid gets 403 but can read status', async () => {
    if (!isRoot) return strangerGets403();
    const root = makeTempDir();
    fs.chmodSync(root, 0o755);
    const fake = await startFake(path.join(root, 'web'), { pid: 9, running: true, upForMs: 0, mode: 0o666 });
    try {
      const denied = await requestAs(otherUid, otherGid, fake.socketPath, '/signal/t');
      assert.equal(denied.status, 403);
      assert.equal(denied.body, `{"Err":"permission denied: uid ${otherUid} may not send signals"}\n`);
      assert.deepEqual(fake.actions(), [], 'nothing was sent');
      const status = await requestAs(otherUid, otherGid, fake.socketPath, '/status');
      assert.equal(status.status, 200);
      assert.equal((await rawRequest(fake.socketPath, '/signal/t')).body, '{"Err":""}\n', 'root may');
    } finally {
      await fake.stop();
    }
    const owned = await startFake(path.join(root, 'mine'), { pid: 9, running: true, upForMs: 0, mode: 0o666, ownerUid: otherUid });
    try {
      const allowed = await requestAs(otherUid, otherGid, owned.socketPath, '/signal/hup');
      assert.equal(allowed.body, '{"Err":""}\n');
      assert.deepEqual(owned.actions(), [{ action: 'signal', detail: 'SIGHUP' }]);
    } finally {
      await owned.stop();
    }
  });

  async function strangerGets403() {
    const fake = await startFake(path.join(makeTempDir(), 'web'), { ownerUid: process.getuid() + 1 });
    try {
      const res = await rawRequest(fake.socketPath, '/signal/t');
      assert.equal(res.statusCode, 403);
      assert.equal(res.body, `{"Err":"permission denied: uid ${process.getuid()} may not send signals"}\n`);
    } finally {
      await fake.stop();
    }
  }
});
