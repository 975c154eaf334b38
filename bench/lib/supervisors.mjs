// One adapter per supervisor: how to lay out N services for it in a scratch directory, start
// it, ask it for a status, find its logs, and stop it with everything it started.
//
// Every adapter works in its own temp dir and never touches system-wide service dirs
// (/etc/service, /etc/supervisor, ~/.pm2…): runsvdir, svscan and s6-svscan scan a temp dir,
// supervisord reads a temp config, pm2 gets a temp PM2_HOME, immortal a temp IMMORTAL_SDIR
// and HOME. Every process a supervisor starts inherits BENCH_MARK=<tag>: whatever outlives
// stop() is found by that mark and KILLed.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killMarked, markedProcesses, which } from './proc.mjs';
import { nodeFlagsFor } from './node-flags.mjs';
import { sleep } from './stats.mjs';

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const IMMORTAL = path.join(repoRoot, 'dist', 'cli', 'immortal.js');
const IMMORTALCTL = path.join(repoRoot, 'dist', 'cli', 'immortalctl.js');
const IMMORTALDIR = path.join(repoRoot, 'dist', 'cli', 'immortaldir.js');


/** A service to lay out: name, program path and its arguments, optional log capture. */
// { name, argv: [program, ...args], log: boolean, follow?: pidfile }

function writeExecutable(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o755 });
}

function yamlString(value) {
  return JSON.stringify(String(value));
}

/** Spawns a long-running supervisor process; its stderr lines go to onLine (if any). */
function startProcess(file, args, { env, cwd, onLine, detached = true }) {
  const child = spawn(file, args, { env, cwd, detached, stdio: ['ignore', 'ignore', 'pipe'] });
  let pending = '';
  child.stderr.on('data', (chunk) => {
    pending += chunk.toString();
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      onLine?.(line);
    }
  });
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', () => {});
  return child;
}

function runQuiet(file, args, env, timeoutMs = 30000) {
  return spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, encoding: 'utf8' });
}

async function waitExit(child, ms) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return true;
  const result = await Promise.race([child.exited, sleep(ms).then(() => undefined)]);
  return result !== undefined;
}

/** Writes to a control FIFO without blocking (runsv / supervise / s6-supervise). */
function writeControl(dir, letters) {
  try {
    const fd = fs.openSync(path.join(dir, 'supervise', 'control'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, letters);
    fs.closeSync(fd);
    return true;
  } catch {
    return false;
  }
}

/**
 * One HTTP/1.0 request on a new unix-socket connection, read until the server closes it; the
 * body of a 200 answer. This is how curl, immortalctl and the Go client ask. (node:http's
 * client, used before 2026-12-03, added ~0.25 ms of its own to every sample, the same for
 * every supervisor, which hid the servers' own differences: docs/performance.md, "Twelfth
 * round".) The request is not half-closed: a server may take end of input for a hang-up.
 */
function http10OverUnix(socketPath, { method = 'GET', urlPath = '/', body = '', headers = {} } = {}) {
  const head = [`${method} ${urlPath} HTTP/1.0`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  const request = `${head.join('\r\n')}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    const chunks = [];
    const socket = net.createConnection(socketPath, () => socket.write(request));
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const response = Buffer.concat(chunks).toString('utf8');
      const split = response.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1];
      if (split === -1 || status !== '200') reject(new Error(`HTTP ${status ?? '?'}: ${response.slice(0, 200)}`));
      else resolve(response.slice(split + 4));
      socket.destroy();
    });
  });
}

// ---- base -------------------------------------------------------------------------------

class Adapter {
  constructor(ctx) {
    /** ctx: { dir, env (with BENCH_MARK), mark: [name, value], programs, feed } */
    this.ctx = ctx;
    this.dir = ctx.dir;
    this.children = [];
  }

  static missing() {
    return undefined;
  }

  /** Marked processes still alive after stop(): KILLed; returns how many there were. */
  async sweep(graceMs = 5000) {
    const deadline = Date.now() + graceMs;
    while (markedProcesses(...this.ctx.mark).length > 0 && Date.now() < deadline) await sleep(50);
    return killMarked(...this.ctx.mark);
  }

  logTarget(name) {
    return path.join(this.dir, 'logs', `${name}.log`);
  }

  /** Nothing to ask programmatically by default. */
  statusApi() {
    return undefined;
  }
}

// ---- immortal (one supervisor process per service) --------------------------------------

function immortalYaml(service, logsDir) {
  const lines = [`cmd: ${service.argv.join(' ')}`];
  // Restart latency is about noticing the exit and starting again: the crash-loop backoff
  // (a feature, on by default) would add its own delay after the 3rd quick crash.
  lines.push('backoff:', '  cap: 0');
  if (service.log) {
    lines.push('log:', `  file: ${yamlString(path.join(logsDir, `${service.name}.log`))}`);
    if (service.timestamp) lines.push('  timestamp: true');
  }
  if (service.follow) lines.push('pid:', `  follow: ${yamlString(service.follow)}`);
  return `${lines.join('\n')}\n`;
}

export class Immortal extends Adapter {
  static id = 'immortal';
  static label = 'immortal';
  static follows = true;
  static followRestarts = true;
  /** Node.js: V8 shrinks its heap some time after start-up once idle (see measureTen). */
  static reducesIdleHeap = true;

  static missing() {
    return fs.existsSync(IMMORTAL) ? undefined : 'dist/ not built (npm install)';
  }

  get env() {
    return { ...this.ctx.env, IMMORTAL_SDIR: path.join(this.dir, 'sdir'), HOME: path.join(this.dir, 'home') };
  }

  async start(services, { onLine } = {}) {
    fs.mkdirSync(path.join(this.dir, 'sdir'), { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'home'), { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    for (const service of services) {
      const file = path.join(this.dir, 'etc', `${service.name}.yml`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, immortalYaml(service, path.join(this.dir, 'logs')));
      this.children.push(startProcess(process.execPath, [...nodeFlagsFor(IMMORTAL), IMMORTAL, '-n', '-ctl', service.name, '-c', file], { env: this.env, onLine }));
    }
  }

  async stop() {
    for (const child of this.children) {
      try {
        child.kill('SIGTERM');
      } catch {
        // gone
      }
    }
    for (const child of this.children) await waitExit(child, 15000);
    return this.sweep();
  }

  statusCli(name) {
    return { file: process.execPath, args: [...nodeFlagsFor(IMMORTALCTL), IMMORTALCTL, 'status', name], env: this.env };
  }

  statusApi(name) {
    const socketPath = path.join(this.dir, 'sdir', name, 'immortal.sock');
    return async () => JSON.parse(await http10OverUnix(socketPath, { urlPath: '/status' })).pid;
  }
}

// ---- immortaldir (every service in one process) -----------------------------------------

export class Immortaldir extends Immortal {
  static id = 'immortaldir';
  static label = 'immortaldir';

  static missing() {
    return fs.existsSync(IMMORTALDIR) ? undefined : 'dist/ not built (npm install)';
  }

  async start(services, { onLine } = {}) {
    const etc = path.join(this.dir, 'etc');
    fs.mkdirSync(etc, { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'sdir'), { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'home'), { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    for (const service of services) {
      fs.writeFileSync(path.join(etc, `${service.name}.yml`), immortalYaml(service, path.join(this.dir, 'logs')));
    }
    this.children.push(startProcess(process.execPath, [...nodeFlagsFor(IMMORTALDIR), IMMORTALDIR, etc], { env: this.env, onLine }));
  }
}

// ---- runit --------------------------------------------------------------------------------

function layoutServiceDirs(scanDir, services, logCommand) {
  for (const service of services) {
    const serviceDir = path.join(scanDir, service.name);
    writeExecutable(path.join(serviceDir, 'run'), `#!/bin/sh\nexec ${service.argv.join(' ')}\n`);
    if (service.log) writeExecutable(path.join(serviceDir, 'log', 'run'), `#!/bin/sh\nexec ${logCommand(service.name, service.timestamp)}\n`);
  }
}

export class Runit extends Adapter {
  static id = 'runit';
  static label = 'runit';

  static missing() {
    return ['runsvdir', 'runsv', 'sv', 'svlogd'].every((c) => which(c)) ? undefined : 'not installed (apt-get install runit)';
  }

  get scanDir() {
    return path.join(this.dir, 'service');
  }

  async start(services) {
    const logs = path.join(this.dir, 'logs');
    for (const service of services.filter((s) => s.log)) {
      fs.mkdirSync(path.join(logs, service.name), { recursive: true });
      // s0: never rotate (every byte stays in `current`); -b: svlogd's man page asks for a
      // bigger buffer "for svlogd instances that process a lot of data in short time".
      fs.writeFileSync(path.join(logs, service.name, 'config'), 's0\n');
    }
    // -tt: a UTC timestamp per line (when asked).
    layoutServiceDirs(this.scanDir, services, (name, stamp) => `svlogd${stamp ? ' -tt' : ''} -b 65536 ${path.join(logs, name)}`);
    this.services = services;
    this.children.push(startProcess(which('runsvdir'), [this.scanDir], { env: this.ctx.env }));
  }

  async stop() {
    // d: down (TERM+CONT), x: exit once down — for each service and its log service.
    for (const service of this.services ?? []) {
      writeControl(path.join(this.scanDir, service.name), 'dx');
      writeControl(path.join(this.scanDir, service.name, 'log'), 'dx');
    }
    await sleep(300);
    for (const child of this.children) {
      try {
        process.kill(child.pid, 'SIGHUP'); // runsvdir: TERM every runsv, then exit
      } catch {
        // gone
      }
    }
    for (const child of this.children) await waitExit(child, 5000);
    return this.sweep();
  }

  logTarget(name) {
    return path.join(this.dir, 'logs', name);
  }

  statusCli(name) {
    return { file: which('sv'), args: ['status', path.join(this.scanDir, name)], env: this.ctx.env };
  }

  /** What `sv status` reads: supervise/status, pid at byte 12 (little-endian). */
  statusApi(name) {
    const file = path.join(this.scanDir, name, 'supervise', 'status');
    return async () => fs.readFileSync(file).readUInt32LE(12);
  }
}

// ---- daemontools --------------------------------------------------------------------------

export class Daemontools extends Adapter {
  static id = 'daemontools';
  static label = 'daemontools';

  static missing() {
    return ['svscan', 'supervise', 'svstat', 'multilog'].every((c) => which(c)) ? undefined : 'not installed (apt-get install daemontools)';
  }

  get scanDir() {
    return path.join(this.dir, 'service');
  }

  async start(services) {
    const logs = path.join(this.dir, 'logs');
    // s16777215 (the largest multilog allows) n1000: rotated files are kept and counted.
    // t: a TAI64N timestamp per line (when asked).
    layoutServiceDirs(this.scanDir, services, (name, stamp) => `multilog${stamp ? ' t' : ''} s16777215 n1000 ${path.join(logs, name)}`);
    fs.mkdirSync(logs, { recursive: true });
    this.services = services;
    this.children.push(startProcess(which('svscan'), [this.scanDir], { env: this.ctx.env }));
  }

  async stop() {
    for (const service of this.services ?? []) {
      writeControl(path.join(this.scanDir, service.name), 'dx');
      writeControl(path.join(this.scanDir, service.name, 'log'), 'dx');
    }
    await sleep(300);
    for (const child of this.children) {
      try {
        process.kill(child.pid, 'SIGTERM'); // svscan has no shutdown of its own
      } catch {
        // gone
      }
    }
    for (const child of this.children) await waitExit(child, 5000);
    return this.sweep();
  }

  logTarget(name) {
    return path.join(this.dir, 'logs', name);
  }

  statusCli(name) {
    return { file: which('svstat'), args: [path.join(this.scanDir, name)], env: this.ctx.env };
  }

  /** What svstat reads: supervise/status, pid at byte 12 (little-endian). */
  statusApi(name) {
    const file = path.join(this.scanDir, name, 'supervise', 'status');
    return async () => fs.readFileSync(file).readUInt32LE(12);
  }
}

// ---- s6 -----------------------------------------------------------------------------------

export class S6 extends Adapter {
  static id = 's6';
  static label = 's6';

  static missing() {
    return ['s6-svscan', 's6-supervise', 's6-svstat', 's6-svscanctl', 's6-log'].every((c) => which(c))
      ? undefined
      : 'not installed (apt-get install s6)';
  }

  get scanDir() {
    return path.join(this.dir, 'service');
  }

  async start(services) {
    const logs = path.join(this.dir, 'logs');
    // T: an ISO 8601 timestamp per line (when asked).
    layoutServiceDirs(this.scanDir, services, (name, stamp) => `s6-log n1000 s16777215${stamp ? ' T' : ''} ${path.join(logs, name)}`);
    fs.mkdirSync(logs, { recursive: true });
    this.children.push(startProcess(which('s6-svscan'), [this.scanDir], { env: this.ctx.env }));
  }

  async stop() {
    // -t: s6-svscan brings every service down, its s6-supervise exit, then it exits itself.
    runQuiet(which('s6-svscanctl'), ['-t', this.scanDir], this.ctx.env);
    for (const child of this.children) {
      if (!(await waitExit(child, 8000))) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          // gone
        }
      }
    }
    return this.sweep();
  }

  logTarget(name) {
    return path.join(this.dir, 'logs', name);
  }

  statusCli(name) {
    return { file: which('s6-svstat'), args: [path.join(this.scanDir, name)], env: this.ctx.env };
  }

  /** What s6-svstat reads: the binary supervise/status file. */
  statusApi(name) {
    const file = path.join(this.scanDir, name, 'supervise', 'status');
    return async () => fs.readFileSync(file).length;
  }
}

// ---- supervisord --------------------------------------------------------------------------

export class Supervisord extends Adapter {
  static id = 'supervisord';
  static label = 'supervisord';
  /** It has no option to timestamp a program's output lines. */
  static timestamps = false;

  static missing() {
    return which('supervisord') && which('supervisorctl') ? undefined : 'not installed (apt-get install supervisor)';
  }

  get configFile() {
    return path.join(this.dir, 'supervisord.conf');
  }

  get socketPath() {
    return path.join(this.dir, 'supervisor.sock');
  }

  async start(services) {
    const logs = path.join(this.dir, 'logs');
    fs.mkdirSync(logs, { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'childlogs'), { recursive: true });
    const sections = [
      '[unix_http_server]',
      `file=${this.socketPath}`,
      'chmod=0700',
      '[supervisord]',
      'nodaemon=true',
      `logfile=${path.join(this.dir, 'supervisord.log')}`,
      `pidfile=${path.join(this.dir, 'supervisord.pid')}`,
      `childlogdir=${path.join(this.dir, 'childlogs')}`,
      '[rpcinterface:supervisor]',
      'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
      '[supervisorctl]',
      `serverurl=unix://${this.socketPath}`,
    ];
    for (const service of services) {
      sections.push(`[program:${service.name}]`, `command=${service.argv.join(' ')}`, 'autorestart=true', 'startsecs=1');
      if (service.log) {
        sections.push(`stdout_logfile=${path.join(logs, `${service.name}.log`)}`, 'stdout_logfile_maxbytes=0', 'redirect_stderr=true');
      }
    }
    fs.writeFileSync(this.configFile, `${sections.join('\n')}\n`);
    this.children.push(startProcess(which('supervisord'), ['-n', '-c', this.configFile], { env: this.ctx.env }));
  }

  async stop() {
    for (const child of this.children) {
      try {
        process.kill(child.pid, 'SIGTERM'); // supervisord stops every program, then exits
      } catch {
        // gone
      }
    }
    // It stops programs from its 1 s main loop: 100 of them on a busy machine take a while.
    for (const child of this.children) await waitExit(child, 60000);
    return this.sweep();
  }

  statusCli(name) {
    return { file: which('supervisorctl'), args: ['-c', this.configFile, 'status', name], env: this.ctx.env };
  }

  /** supervisorctl's own path: XML-RPC getProcessInfo over supervisord's unix socket. */
  statusApi(name) {
    const body = `<?xml version="1.0"?><methodCall><methodName>supervisor.getProcessInfo</methodName><params><param><value><string>${name}</string></value></param></params></methodCall>`;
    return async () => {
      const text = await http10OverUnix(this.socketPath, {
        method: 'POST',
        urlPath: '/RPC2',
        body,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) },
      });
      if (!text.includes('<name>pid</name>')) throw new Error(`unexpected XML-RPC answer: ${text.slice(0, 200)}`);
      return text.length;
    };
  }
}

// ---- pm2 ----------------------------------------------------------------------------------

/** The installed pm2 package directory (for its programmatic API), if any. */
export function pm2ModuleDir() {
  const bin = which('pm2');
  if (!bin) return undefined;
  try {
    const dir = path.dirname(path.dirname(fs.realpathSync(bin)));
    return fs.existsSync(path.join(dir, 'package.json')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

export class Pm2 extends Adapter {
  static id = 'pm2';
  static label = 'pm2';
  static reducesIdleHeap = true;

  static missing() {
    return which('pm2') ? undefined : 'not installed (npm i -g pm2)';
  }

  get env() {
    return { ...this.ctx.env, PM2_HOME: path.join(this.dir, 'pm2'), PM2_DISABLE_VERSION_CHECK: 'true' };
  }

  async start(services) {
    const logs = path.join(this.dir, 'logs');
    fs.mkdirSync(logs, { recursive: true });
    const apps = services.map((service) => ({
      name: service.name,
      script: service.argv[0],
      args: service.argv.slice(1),
      interpreter: 'none',
      autorestart: true,
      merge_logs: true,
      ...(service.timestamp ? { time: true } : {}),
      out_file: service.log ? path.join(logs, `${service.name}.log`) : path.join(this.dir, 'pm2', 'logs', `${service.name}-out.log`),
      error_file: path.join(this.dir, 'pm2', 'logs', `${service.name}-err.log`),
    }));
    const file = path.join(this.dir, 'apps.json');
    fs.writeFileSync(file, JSON.stringify({ apps }));
    // The pm2 CLI starts the God daemon (it inherits BENCH_MARK) and returns.
    const result = runQuiet(which('pm2'), ['start', file], this.env, 120000);
    if (result.status !== 0) throw new Error(`pm2 start: ${result.stderr || result.stdout}`);
  }

  async stop() {
    runQuiet(which('pm2'), ['kill'], this.env, 60000);
    return this.sweep();
  }

  statusCli() {
    return { file: which('pm2'), args: ['jlist'], env: this.env };
  }

  /** Its programmatic API (RPC to the God daemon), run in a child: see statusApiBatch. */
  statusApiBatch(name, count) {
    const moduleDir = pm2ModuleDir();
    if (!moduleDir) return undefined;
    const probe = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pm2-probe.mjs');
    const result = spawnSync(process.execPath, [probe, moduleDir, name, String(count)], {
      env: this.env,
      encoding: 'utf8',
      timeout: 120000,
    });
    if (result.status !== 0) throw new Error(`pm2 API probe: ${result.stderr || result.stdout}`.slice(0, 300));
    return JSON.parse(result.stdout.trim().split('\n').pop());
  }
}


// ---- the Go original ---------------------------------------------------------------------

/**
 * Where the Go original's binaries are: $IMMORTAL_GO_DIR, else ../shared/oracle/go-immortal
 * beside the repository (or beside its main checkout, in a git worktree), else an `immortal`
 * ELF binary on PATH (with its immortalctl and immortaldir next to it). Undefined when none
 * of them is there: its columns are n/a.
 */
export function goImmortalDir() {
  const candidates = [];
  if (process.env.IMMORTAL_GO_DIR) candidates.push(path.resolve(process.env.IMMORTAL_GO_DIR));
  else {
    candidates.push(path.join(repoRoot, '..', 'shared', 'oracle', 'go-immortal'));
    // In a `git worktree`, beside the main checkout too (.git is then a file naming it).
    const mainCheckout = mainWorktreeOf(repoRoot);
    if (mainCheckout) candidates.push(path.join(mainCheckout, '..', 'shared', 'oracle', 'go-immortal'));
    const onPath = which('immortal');
    if (onPath) candidates.push(path.dirname(fs.realpathSync(onPath)));
  }
  return candidates.find((dir) => isElf(path.join(dir, 'immortal')) && isElf(path.join(dir, 'immortalctl')));
}

/** The main checkout of a linked worktree ("gitdir: <main>/.git/worktrees/<name>"), if any. */
function mainWorktreeOf(dir) {
  try {
    const match = /^gitdir: (.*)\/\.git\/worktrees\/[^/]+\s*$/.exec(fs.readFileSync(path.join(dir, '.git'), 'utf8'));
    return match?.[1];
  } catch {
    return undefined;
  }
}

function isElf(file) {
  try {
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    return head.toString('latin1') === '\x7fELF';
  } catch {
    return false;
  }
}

const GO_MISSING = `not found: set IMMORTAL_GO_DIR to the directory of its immortal, immortalctl and immortaldir binaries (default ../shared/oracle/go-immortal beside the repository or its main git worktree)`;

/** Its run.yml: the same keys as ours, minus `backoff` (it has no crash-loop backoff). */
function goYaml(service, logsDir) {
  const lines = [`cmd: ${service.argv.join(' ')}`];
  if (service.log) {
    lines.push('log:', `  file: ${yamlString(path.join(logsDir, `${service.name}.log`))}`);
    if (service.timestamp) lines.push('  timestamp: true');
  }
  if (service.follow) lines.push('pid:', `  follow: ${yamlString(service.follow)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The Go original, run as a black box: `immortal -n -ctl NAME -c run.yml` per service, the
 * same layout as our immortal column. It keeps its service running on SIGTERM, so stop() asks
 * each one to `immortalctl halt` (service and supervisor exit) first. Its socket answers `/`
 * (not `/status`). Its follow log lines differ from ours: only "followed pid killed → running
 * again" (seen through the start feed) is measured for it.
 */
export class GoImmortal extends Immortal {
  static id = 'go-immortal';
  static label = 'immortal (Go)';
  static follows = false;
  static followRestarts = true;
  static reducesIdleHeap = false;

  static missing() {
    return goImmortalDir() ? undefined : GO_MISSING;
  }

  get bin() {
    return goImmortalDir();
  }

  get env() {
    // Its immortaldir execs `immortal` from PATH: the Go one must come first.
    return { ...super.env, PATH: `${this.bin}:${this.ctx.env.PATH ?? '/usr/bin:/bin'}` };
  }

  writeConfigs(services) {
    for (const dir of ['sdir', 'home', 'logs', 'etc']) fs.mkdirSync(path.join(this.dir, dir), { recursive: true });
    for (const service of services) {
      fs.writeFileSync(path.join(this.dir, 'etc', `${service.name}.yml`), goYaml(service, path.join(this.dir, 'logs')));
    }
    this.services = services;
  }

  async start(services, { onLine } = {}) {
    this.writeConfigs(services);
    for (const service of services) {
      const file = path.join(this.dir, 'etc', `${service.name}.yml`);
      this.children.push(startProcess(path.join(this.bin, 'immortal'), ['-n', '-ctl', service.name, '-c', file], { env: this.env, onLine }));
    }
  }

  haltAll() {
    for (const service of this.services ?? []) runQuiet(path.join(this.bin, 'immortalctl'), ['halt', service.name], this.env, 10000);
  }

  async stop() {
    this.haltAll();
    for (const child of this.children) await waitExit(child, 5000);
    for (const child of this.children) {
      try {
        child.kill('SIGTERM');
      } catch {
        // gone
      }
    }
    return this.sweep();
  }

  statusCli(name) {
    return { file: path.join(this.bin, 'immortalctl'), args: ['status', name], env: this.env };
  }

  statusApi(name) {
    const socketPath = path.join(this.dir, 'sdir', name, 'immortal.sock');
    return async () => JSON.parse(await http10OverUnix(socketPath, { urlPath: '/' })).pid;
  }
}

/**
 * The Go immortaldir: it scans a directory of run.yml files and starts one detached
 * `immortal -c FILE -ctl NAME` per file (found on PATH: the Go one). Memory counts the
 * scanner and every one of those supervisors.
 */
export class GoImmortaldir extends GoImmortal {
  static id = 'go-immortaldir';
  static label = 'immortaldir (Go)';

  static missing() {
    const dir = goImmortalDir();
    if (!dir) return GO_MISSING;
    return isElf(path.join(dir, 'immortaldir')) ? undefined : `no immortaldir binary in ${dir}`;
  }

  async start(services, { onLine } = {}) {
    this.writeConfigs(services);
    this.children.push(startProcess(path.join(this.bin, 'immortaldir'), [path.join(this.dir, 'etc')], { env: this.env, onLine }));
  }

  async stop() {
    // The scanner first, so it does not start again what halt stops.
    for (const child of this.children) {
      try {
        child.kill('SIGTERM');
      } catch {
        // gone
      }
    }
    for (const child of this.children) await waitExit(child, 5000);
    this.haltAll();
    return this.sweep();
  }
}

export const BASELINE_COLUMNS = [Immortal, Immortaldir, GoImmortal, GoImmortaldir, Runit, Daemontools, S6, Supervisord, Pm2];
