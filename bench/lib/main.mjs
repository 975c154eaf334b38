// bench/run: every supervisor found on this machine, side by side, in one run; one markdown
// table on stdout and the raw numbers as JSON (bench/out/results.json unless --json=FILE).
// Installs nothing: a supervisor that is not installed is a column of "n/a".

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killMarked, which } from './proc.mjs';
import { compareRuns, loadRecorded, renderComparison } from './compare.mjs';
import { marksUsed, measureFloor, measureLogsInRounds, measureFollow, measureFollowRestart, measureHundred, measureOneServiceSideBySide, measureTen } from './measures.mjs';
import { fmt } from './stats.mjs';
import { pausePageReporting } from './page-reporting.mjs';
import { BASELINE_COLUMNS, pm2ModuleDir } from './supervisors.mjs';
import { renderTable } from './table.mjs';

const benchDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

const RECORDED = path.join(benchDir, 'charts', 'results.json');

const USAGE = `usage: bench/run [--quick] [--only=id,id] [--skip=part,part] [--json=FILE] [--log-mb=N] [--hundred=N]

  --quick        few samples, 100 MB of log, 10 services instead of 100 (~10 min); ends with
                 the ratios against the recorded run (a regression check)
  --only=ids     columns to run: ${BASELINE_COLUMNS.map((c) => c.id).join(', ')}
  --skip=parts   parts to leave out: one, ten, log, logts, follow, hundred
  --json=FILE    where the raw results go (default bench/out/results.json)
  --recorded=FILE  the run to compare with (default bench/charts/results.json); given, the
                 comparison is printed after a full run too; --recorded=none: no comparison
  --log-mb=N     megabytes (10^6 bytes) written by the log throughput service (default 1000)
  --hundred=N    services in the many-services part (default 100)
  --restart-age=MS  how long a service runs before each kill -9 (default 1500)
`;

function parseArgs(argv) {
  const options = { quick: false, only: undefined, skip: new Set(), json: path.join(benchDir, 'out', 'results.json') };
  for (const arg of argv) {
    const [flag, value] = arg.split(/=(.*)/s);
    if (flag === '--quick') options.quick = true;
    else if (flag === '--only') options.only = new Set(value.split(','));
    else if (flag === '--skip') options.skip = new Set(value.split(','));
    else if (flag === '--json') options.json = path.resolve(value);
    else if (flag === '--recorded') options.recorded = value === 'none' ? null : path.resolve(value);
    else if (flag === '--log-mb') options.logMb = Number(value);
    else if (flag === '--hundred') options.hundredCount = Number(value);
    else if (flag === '--restart-age') options.restartAgeMs = Number(value);
    else if (flag === '-h' || flag === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else {
      process.stderr.write(`bench/run: unknown argument ${arg}\n${USAGE}`);
      process.exit(2);
    }
  }
  const quick = options.quick;
  return {
    ...options,
    settleMs: quick ? 1000 : 3000,
    // "once idle": the median of the readings 70-100 s after the last start (settledMemory)
    steadyFromMs: 70000,
    steadyUntilMs: 100000,
    cliCount: quick ? 10 : 100,
    cliBudgetMs: quick ? 3000 : 15000,
    apiCount: quick ? 50 : 500,
    apiBudgetMs: quick ? 2000 : 5000,
    restarts: quick ? 3 : 20,
    restartGapMs: 300,
    restartAgeMs: options.restartAgeMs ?? 1500,
    logBytes: Math.round((options.logMb ?? (quick ? 100 : 1000)) * 1e6 / 100) * 100,
    logTimeoutMs: quick ? 120000 : 600000,
    logRounds: quick ? 1 : 3,
    logSlowMs: 15000,
    follows: quick ? 3 : 10,
    hundred: options.hundredCount ?? (quick ? 10 : 100),
    hundredTimeoutMs: 300000,
  };
}

function sh(command) {
  const result = spawnSync('sh', ['-c', command], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function versions() {
  const debian = (pkg) => sh(`dpkg-query -W -f='\${Version}' ${pkg} 2>/dev/null`);
  return {
    node: process.version,
    runit: debian('runit'),
    daemontools: debian('daemontools'),
    s6: debian('s6'),
    supervisor: debian('supervisor') ?? sh('supervisord -v'),
    // Read from its package.json: `pm2 -v` would start a pm2 daemon.
    pm2: pm2ModuleDir() ? JSON.parse(fs.readFileSync(path.join(pm2ModuleDir(), 'package.json'), 'utf8')).version : undefined,
    immortal: JSON.parse(fs.readFileSync(path.join(benchDir, '..', 'package.json'), 'utf8')).version,
  };
}

function machine() {
  const memLine = sh('free -h | grep Mem:');
  return {
    nproc: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memory: memLine,
    kernel: os.release(),
    os: sh('. /etc/os-release && echo "$PRETTY_NAME"'),
    node: process.version,
    loadavg: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Undoes the run's one change to the machine (page reporting, paused for the log rounds). */
let restoreMachine = () => {};

function cleanupAll() {
  for (const tag of marksUsed) killMarked('BENCH_MARK', tag);
  restoreMachine();
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  process.on('SIGINT', () => {
    log('interrupted: killing everything this run started');
    cleanupAll();
    process.exit(130);
  });
  process.on('SIGTERM', () => {
    cleanupAll();
    process.exit(143);
  });

  const startedAt = new Date();
  const before = machine();
  const columns = BASELINE_COLUMNS.filter((c) => !options.only || options.only.has(c.id));
  const results = {};
  const part = (name) => !options.skip.has(name);

  log('calibration: kill -9 → exit event inside the bench itself');
  const floor = await measureFloor(options.quick ? 5 : 20);

  let direct;
  const present = [];
  for (const Supervisor of columns) {
    const missing = Supervisor.missing();
    if (missing) {
      log(`${Supervisor.label}: ${missing}`);
      results[Supervisor.id] = Object.fromEntries(
        ['idle', 'ten', 'restart', 'log', 'logTs', 'follow', 'followRestart', 'statusCli', 'statusCliVsNode', 'statusApi', 'hundred'].map((k) => [k, { na: missing }]),
      );
    } else {
      results[Supervisor.id] = {};
      present.push(Supervisor);
    }
  }

  if (part('one')) {
    log(`${present.map((s) => s.label).join(', ')}: one idle service each, side by side (memory, status, ${options.restarts} rounds of restarts)`);
    const one = await measureOneServiceSideBySide(present, options);
    for (const Supervisor of present) Object.assign(results[Supervisor.id], one[Supervisor.id]);
  }

  let pageReporting;
  if (part('log') || part('logts')) {
    log(`log throughput: ${options.logRounds} round(s) of the direct redirect and every supervisor in turn (${options.logBytes / 1e6} MB each)`);
    const paused = pausePageReporting();
    restoreMachine = paused.restore;
    pageReporting = paused.state;
    log(`free page reporting: ${pageReporting}`);
    const logs = await measureLogsInRounds(present, options, { log: part('log'), logTs: part('logts') });
    paused.restore();
    direct = logs.direct;
    for (const Supervisor of present) Object.assign(results[Supervisor.id], logs.results[Supervisor.id]);
  }

  for (const Supervisor of present) {
    const result = results[Supervisor.id];
    if (part('ten')) {
      log(`${Supervisor.label}: ten idle services (memory per service)`);
      result.ten = await measureTen(Supervisor, options);
    }
    if (part('follow')) {
      log(`${Supervisor.label}: follow-pid exit detection and restart`);
      result.follow = Supervisor.follows ? await measureFollow(Supervisor, options) : { na: 'no pid-file following' };
      result.followRestart = await measureFollowRestart(Supervisor, options);
    }
    if (part('hundred')) {
      log(`${Supervisor.label}: ${options.hundred} idle services`);
      result.hundred = await measureHundred(Supervisor, options);
    }
  }
  cleanupAll();

  const after = machine();
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...before, loadavgAfter: after.loadavg, pageReporting },
    versions: versions(),
    options: { ...options, skip: [...options.skip], only: options.only ? [...options.only] : undefined },
    columns: columns.map((c) => ({ id: c.id, label: c.label })),
    floor,
    direct,
    results,
  };
  fs.mkdirSync(path.dirname(options.json), { recursive: true });
  fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);

  const m = report.machine;
  process.stdout.write(
    [
      `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memory?.replace(/\s+/g, ' ')}, kernel ${m.kernel}, ${m.os}, node ${m.node}`,
      `Load average: ${m.loadavg} at start, ${m.loadavgAfter} at end. Run ${report.startedAt} → ${report.finishedAt}.`,
      ...(m.pageReporting && m.pageReporting !== 'none' ? [`Free page reporting (virtio-balloon): ${m.pageReporting}.`] : []),
      `Versions: ${Object.entries(report.versions).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      floor.na
        ? `Latency floor: n/a (${floor.na})`
        : `Latency floor on this machine now (kill -9 of a child → its exit event in the bench's own Node.js process): p50 ${fmt(floor.p50)} ms, max ${fmt(floor.max)} ms.`,
      '',
      renderTable(report.columns, results, direct, options.hundred),
      `Raw results: ${path.relative(process.cwd(), options.json) || options.json}`,
      '',
    ].join('\n'),
  );

  const recordedFile = options.recorded === undefined ? (options.quick ? RECORDED : undefined) : options.recorded;
  if (recordedFile && path.resolve(recordedFile) !== options.json) {
    const recorded = loadRecorded(recordedFile);
    if (recorded.error) process.stdout.write(`\nNo comparison: ${recorded.error}\n`);
    else process.stdout.write(`\n${renderComparison(compareRuns(report, recorded), recorded, path.relative(process.cwd(), recordedFile))}`);
  }
}

main().catch((err) => {
  cleanupAll();
  process.stderr.write(`bench/run: ${err.stack ?? err}\n`);
  process.exit(1);
});
