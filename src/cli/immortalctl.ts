#!/usr/bin/env node
// immortalctl: status and control of every supervisor found under ~/.immortal and
// $IMMORTAL_SDIR. Arguments are parsed by hand because the original's single-dash,
// multi-letter flags (-in, -ou) cannot be expressed with a getopt-style parser.

import { closeClients, ControlError, useOneRequestPerConnection, getRecord, getStatus, sendSignal, watchStatus, type StatusResponse } from '../control/client';
import { discoverServices, type DiscoveredService } from '../control/discover';
import { superviseRoots } from '../supervise-dir/roots';
import { packageVersion } from './version';

// ---- actions -----------------------------------------------------------------------------

interface Action {
  /** What the user typed: `status`, `stop`, `-k`… */
  word: string;
  /** Name sent to /signal/<name>; undefined for status. */
  socketSignal?: string;
  description: string;
  /** Ends the supervisor: read its status before, it may not answer after. */
  endsSupervisor?: boolean;
  /** The row is printed once this has happened (at most --wait seconds), not at once. */
  awaits?: 'service-down' | 'supervisor-done';
  /** The socket answers once the action is over (upgrade): wait this long for it. */
  answerTimeoutMs?: number;
}

/**
 * How long stop and halt wait for the service to be down before printing it as "stopping":
 * past the default stop_timeout (10 s, then KILL). The socket cannot tell a longer timeout;
 * --wait can.
 */
const DEFAULT_WAIT_SECONDS = 15;

// The socket names sent are the ones the Go immortalctl sends (stop → down, -k → KILL…).
const WORD_ACTIONS: readonly Action[] = [
  { word: 'status', description: 'Print the status of the service, or of all services without a name.' },
  { word: 'start', socketSignal: 'start', description: 'Start the service; restart it whenever it exits.' },
  { word: 'stop', socketSignal: 'down', description: 'Stop the service (TERM); do not restart it.', awaits: 'service-down' },
  { word: 'once', socketSignal: 'once', description: 'Start the service if not running; do not restart it after it exits.' },
  { word: 'halt', socketSignal: 'halt', description: 'Stop the service (TERM) and exit its supervisor (immortaldir starts it again).', endsSupervisor: true, awaits: 'supervisor-done' },
  { word: 'restart', socketSignal: 'restart', description: 'Same as halt.', endsSupervisor: true, awaits: 'supervisor-done' },
  { word: 'exit', socketSignal: 'exit', description: 'Exit only the supervisor, leaving the service running.', endsSupervisor: true },
  // Readiness, then the old instance's stop_timeout: answered when the new instance serves.
  { word: 'upgrade', socketSignal: 'upgrade', answerTimeoutMs: 600_000,
    description: 'Start a second instance on the held listen: sockets, hand over once it is ready, stop the old one (docs/zero-downtime.md).' },
];

const FLAG_ACTIONS: readonly Action[] = [
  ['1', 'USR1'], ['2', 'USR2'], ['a', 'ALRM'], ['c', 'CONT'], ['h', 'HUP'], ['i', 'INT'], ['in', 'TTIN'],
  ['k', 'KILL'], ['ou', 'TTOU'], ['q', 'QUIT'], ['s', 'STOP'], ['t', 'TERM'], ['w', 'WINCH'],
].map(([flag, signal]) => ({ word: `-${flag}`, socketSignal: signal, description: `Send SIG${signal} to the service.` }));

const STATUS_ACTION = WORD_ACTIONS[0];

// ---- arguments ---------------------------------------------------------------------------

export type Invocation =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; action: Action; target?: string; json: boolean; waitMs: number };

export class UsageError extends Error {}

/** Go's flag package accepts -name and --name alike; so do we. */
function flagName(arg: string): string | undefined {
  if (!arg.startsWith('-') || arg === '-' || arg === '--') return undefined;
  return arg.replace(/^--?/, '');
}

export function parseArguments(args: readonly string[]): Invocation {
  let action: Action | undefined;
  let target: string | undefined;
  let json = false;
  let waitSeconds = DEFAULT_WAIT_SECONDS;
  const chooseAction = (next: Action) => {
    if (action) throw new UsageError(`only one action at a time: ${action.word} and ${next.word}`);
    action = next;
  };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    const flag = flagName(arg);
    if (flag === 'help') return { kind: 'help' };
    if (flag === 'v' || flag === 'version') return { kind: 'version' };
    if (flag === 'json') {
      json = true;
    } else if (flag === 'wait') {
      index += 1;
      waitSeconds = Number(args[index] ?? NaN);
      if (!(args[index] ?? '').trim() || !Number.isFinite(waitSeconds) || waitSeconds < 0) {
        throw new UsageError(`--wait needs a number of seconds, got ${args[index] === undefined ? 'nothing' : `"${args[index]}"`}`);
      }
    } else if (flag !== undefined) {
      const signalAction = FLAG_ACTIONS.find((candidate) => candidate.word === `-${flag}`);
      if (!signalAction) throw new UsageError(`unknown option ${arg}`);
      chooseAction(signalAction);
    } else if (action === undefined && target === undefined) {
      const wordAction = WORD_ACTIONS.find((candidate) => candidate.word === arg);
      if (!wordAction) throw new UsageError(`unknown action "${arg}"`);
      chooseAction(wordAction);
    } else if (target === undefined) {
      target = arg;
    } else {
      throw new UsageError(`unexpected argument "${arg}"`);
    }
  }
  const chosen = action ?? STATUS_ACTION;
  if (chosen.socketSignal !== undefined && target === undefined) {
    throw new UsageError(`${chosen.word} needs a service name (or "*" for all)`);
  }
  return { kind: 'run', action: chosen, target, json, waitMs: waitSeconds * 1000 };
}

export function helpText(program = 'immortalctl'): string {
  const line = (word: string, description: string) => `    ${word.padEnd(10)}${description}`;
  return [
    `usage: ${program} [--json] [--wait seconds] [action | signal] [service | "*"]`,
    '',
    `With no arguments, print the status of every service found in ~/.immortal and $IMMORTAL_SDIR`,
    '(default /var/run/immortal).',
    '',
    '  Actions:',
    ...WORD_ACTIONS.map((action) => line(action.word, action.description)),
    line('logs', 'NAME [-f] [-n N]: print (and follow) the service\'s log file; see immortalctl logs --help.'),
    '',
    '  Signals:',
    ...FLAG_ACTIONS.map((action) => line(action.word, action.description)),
    '',
    '  Options:',
    line('--json', 'Print the result as one JSON array instead of a table.'),
    line('--wait', `stop and halt: print the row once the service is down, waiting at most this many seconds (default ${DEFAULT_WAIT_SECONDS}); "stopping" if it is still up.`),
    line('-v', 'Print the version.'),
    line('--help', 'Print this help.'),
    '',
  ].join('\n');
}

// ---- running an action -----------------------------------------------------------------

export interface ServiceRow {
  service: DiscoveredService;
  status?: StatusResponse;
  /** Why the supervisor could not be reached (stale socket…). */
  error?: string;
  /** The supervisor's answer to the action, when it refused it. */
  actionError?: string;
  /** 'stopping': still up when the wait ran out; 'halted': the supervisor has exited. */
  outcome?: 'stopping' | 'halted';
  /** What the full record adds: the whole service's processes, memory, cpu; ready and health. */
  usage?: { processes: unknown; memory: unknown; cpu: unknown; ready: unknown; health: unknown };
}

function describeError(err: unknown): string {
  if (!(err instanceof ControlError)) return (err as Error).message;
  switch (err.kind) {
    case 'stale':
      return 'stale socket (connection refused)';
    case 'missing':
      return 'socket disappeared';
    case 'timeout':
      return 'no answer (timeout)';
    case 'denied':
      return 'permission denied on socket';
    default:
      return err.message;
  }
}

async function statusRow(service: DiscoveredService, row: ServiceRow = { service }): Promise<ServiceRow> {
  try {
    row.status = await getStatus(service.socketPath);
  } catch (err) {
    row.error = describeError(err);
  }
  return row;
}

async function applyAction(service: DiscoveredService, action: Action, waitMs: number): Promise<ServiceRow> {
  if (action.socketSignal === undefined) return statusRow(service);
  const row: ServiceRow = { service };
  if (action.endsSupervisor) {
    await statusRow(service, row);
    if (row.error) return row;
  }
  try {
    const reply = await sendSignal(service.socketPath, action.socketSignal, action.answerTimeoutMs);
    if (reply.Err) row.actionError = reply.Err;
  } catch (err) {
    row.error = describeError(err);
    return row;
  }
  if (row.actionError === undefined && action.awaits === 'service-down') return awaitServiceDown(service, row, waitMs);
  if (row.actionError === undefined && action.awaits === 'supervisor-done') return awaitSupervisorDone(service, row, waitMs);
  return action.endsSupervisor ? row : statusRow(service, row);
}

/** --json: the whole service's usage from `/service`; a Go original has none and stays as it is. */
async function addUsage(row: ServiceRow): Promise<void> {
  try {
    const record = await getRecord(row.service.socketPath);
    if (record) row.usage = { processes: record.processes, memory: record.memory, cpu: record.cpu, ready: record.ready ?? null, health: record.health ?? null };
  } catch {
    // the status came; a record that does not is left out rather than failing the listing
  }
}

const isRunning = (status: StatusResponse) => status.up !== undefined;

/** stop: the row once the service is down, not while its TERM is still being handled. */
async function awaitServiceDown(service: DiscoveredService, row: ServiceRow, waitMs: number): Promise<ServiceRow> {
  const { last, reached } = await watchStatus(
    service.socketPath,
    (answer) => answer instanceof ControlError || !isRunning(answer),
    waitMs,
  );
  if (last instanceof ControlError) row.error = describeError(last);
  else row.status = last;
  if (!reached) row.outcome = 'stopping';
  return row;
}

/**
 * halt: the supervisor stops the service, then exits (and immortaldir may start a new one at
 * once). Done when the service is down, the socket is gone, or another pid answers.
 */
async function awaitSupervisorDone(service: DiscoveredService, row: ServiceRow, waitMs: number): Promise<ServiceRow> {
  const before = row.status;
  const { last, reached } = await watchStatus(
    service.socketPath,
    (answer) => answer instanceof ControlError || !isRunning(answer) || answer.pid !== before?.pid,
    waitMs,
  );
  if (last instanceof ControlError) {
    // Nothing runs any more: the last command, without pid or times.
    row.status = before && { pid: 0, cmd: before.cmd, fpid: false, count: before.count };
    row.outcome = 'halted';
  } else {
    row.status = last;
    if (!reached) row.outcome = 'stopping';
  }
  return row;
}

function selectServices(services: DiscoveredService[], target: string | undefined): DiscoveredService[] {
  if (target === undefined || target === '*') return services;
  return services.filter((service) => service.name === target);
}

// ---- output ------------------------------------------------------------------------------

const ANSI = { red: '\x1b[0;31m', green: '\x1b[0;32m', yellow: '\x1b[0;33m', reset: '\x1b[0;00m' };
type Colour = keyof Omit<typeof ANSI, 'reset'>;

/** NO_COLOR (any non-empty value) wins; FORCE_COLOR forces colour without a TTY. */
export function colourWanted(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  return isTTY;
}

/** Like the original, the state colours the Name: green up, red down, yellow following. */
function nameColour(row: ServiceRow): Colour {
  if (!row.status || row.outcome === 'halted') return 'red';
  if (row.status.fpid) return 'yellow';
  if (row.status.down !== undefined) return 'red';
  return 'green';
}

export function renderTable(rows: readonly ServiceRow[], colour: boolean): string {
  const paint = (text: string, which: Colour) => (colour ? `${ANSI[which]}${text}${ANSI.reset}` : text);
  const pidText = (row: ServiceRow) => (row.status && row.status.pid > 0 ? String(row.status.pid) : '');
  const widest = (min: number, texts: string[]) => Math.max(min, ...texts.map((text) => text.length));
  const pidWidth = widest(3, rows.map(pidText));
  const upWidth = widest(2, rows.map((row) => row.status?.up ?? ''));
  const downWidth = widest(4, rows.map((row) => row.status?.down ?? ''));
  const nameWidth = widest(4, rows.map((row) => row.service.name));
  const line = (pid: string, up: string, down: string, name: string, cmd: string) =>
    `${pid.padStart(pidWidth)}   ${up.padStart(upWidth)}   ${down.padStart(downWidth)}   ${name}   ${cmd}`;

  const lines = [line('PID', 'Up', 'Down', 'Name'.padEnd(nameWidth), 'CMD')];
  for (const row of rows) {
    const name = paint(row.service.name.padEnd(nameWidth), nameColour(row));
    const { status } = row;
    let cmd: string;
    if (!status) cmd = paint(row.error ?? 'unknown error', 'yellow');
    else if (status.status) cmd = paint(`${status.cmd} - ${status.status}`, 'yellow');
    else cmd = status.cmd;
    // Readiness and health (docs/readiness.md) as a marker: the Go columns stay as they are.
    if (row.usage?.ready === false) cmd += paint(' - not ready', 'yellow');
    if (typeof row.usage?.health === 'string' && row.usage.health !== 'ok') cmd += paint(` - health ${row.usage.health}`, 'yellow');
    if (row.outcome) cmd += paint(` - ${row.outcome}`, 'yellow');
    if (row.actionError) cmd += paint(` - ${row.actionError}`, 'yellow');
    lines.push(line(pidText(row), status?.up ?? '', status?.down ?? '', name, cmd));
  }
  return lines.join('\n') + '\n';
}

export function renderJson(rows: readonly ServiceRow[]): string {
  const entries = rows.map((row) => {
    const where = { name: row.service.name, dir: row.service.dir };
    if (!row.status) return { ...where, error: row.error };
    return {
      ...where,
      ...row.status,
      ...row.usage,
      ...(row.outcome ? { outcome: row.outcome } : {}),
      ...(row.actionError ? { Err: row.actionError } : {}),
    };
  });
  return JSON.stringify(entries, null, 2) + '\n';
}

// ---- main ----------------------------------------------------------------------------------

async function run(invocation: Extract<Invocation, { kind: 'run' }>): Promise<number> {
  const roots = superviseRoots();
  const selected = selectServices(await discoverServices(roots), invocation.target);
  if (invocation.target !== undefined && invocation.target !== '*' && selected.length === 0) {
    process.stderr.write(`immortalctl: no service named "${invocation.target}" in ${roots.join(' or ')}\n`);
    return 1;
  }
  const rows = await Promise.all(selected.map(async (service) => {
    const row = await applyAction(service, invocation.action, invocation.waitMs);
    if (row.status) await addUsage(row);
    return row;
  }));
  const output = invocation.json
    ? renderJson(rows)
    : renderTable(rows, colourWanted(process.env, Boolean(process.stdout.isTTY)));
  process.stdout.write(output);
  // Listing a stale socket is information; an action that did not happen is a failure.
  const actionFailed = invocation.action.socketSignal !== undefined && rows.some((row) => row.error || row.actionError);
  return actionFailed ? 1 : 0;
}

export async function main(args: readonly string[]): Promise<number> {
  // Loaded for `logs` only: it brings node:http, which a listing does not need.
  if (args[0] === 'logs') return (require('./immortalctl-logs') as typeof import('./immortalctl-logs')).runLogs(args.slice(1));
  let invocation: Invocation;
  try {
    invocation = parseArguments(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`immortalctl: ${err.message}; see immortalctl --help\n`);
    return 1;
  }
  if (invocation.kind === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  if (invocation.kind === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  useOneRequestPerConnection();
  try {
    return await run(invocation);
  } finally {
    closeClients();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`immortalctl: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
