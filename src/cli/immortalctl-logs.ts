// `immortalctl logs NAME [-f] [-n N]`: prints a service's log file, like `tail -n N [-F]`.
// Which file: the one its run.yml names (`log.file`). A supervisor's socket does not say, so
// immortalctl asks immortaldir, which loaded that run.yml: `GET /api/services/NAME` on
// `<supervise root>/immortaldir.sock` gives the service's record with its `logFile`. The
// file itself is then read directly (with immortalctl's own permissions).

import http from 'node:http';
import path from 'node:path';
import { followLog, lastLines } from '../control/logs';
import type { ServiceRecord } from '../control/record';
import { systemSuperviseRoot } from '../supervise-dir/roots';

export const LOGS_USAGE = `usage: immortalctl logs NAME [-f] [-n N]

Prints the last N lines (default 10) of the log file of service NAME, as its run.yml names it
(log.file), and with -f follows it across rotations like tail -F (Ctrl-C ends).
The file is learned from the immortaldir running NAME, through $IMMORTAL_SDIR/immortaldir.sock.
`;

const DEFAULT_LINES = 10;
/** The socket immortaldir serves its dashboard and service records on. */
export const IMMORTALDIR_SOCKET = 'immortaldir.sock';

interface LogsInvocation {
  name: string;
  follow: boolean;
  lines: number;
}

class LogsUsageError extends Error {}

function parseLogsArguments(args: readonly string[]): LogsInvocation | 'help' {
  let name: string | undefined;
  let follow = false;
  let lines = DEFAULT_LINES;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '-f' || arg === '--follow') {
      follow = true;
    } else if (arg === '-n' || arg === '--lines' || /^-n\d+$/.test(arg)) {
      const raw = arg.length > 2 && arg.startsWith('-n') && arg !== '-n' ? arg.slice(2) : args[++i];
      if (raw === undefined || !/^\d+$/.test(raw)) throw new LogsUsageError(`-n needs a number of lines, got ${raw === undefined ? 'nothing' : `"${raw}"`}`);
      lines = Number(raw);
    } else if (arg.startsWith('-')) {
      throw new LogsUsageError(`unknown option ${arg}`);
    } else if (name === undefined) {
      name = arg;
    } else {
      throw new LogsUsageError(`unexpected argument "${arg}"`);
    }
  }
  if (name === undefined) throw new LogsUsageError('logs needs a service name');
  return { name, follow, lines };
}

/** Runs `immortalctl logs …` (args after "logs"); resolves with the exit code (never, with -f). */
export async function runLogs(args: readonly string[]): Promise<number> {
  let invocation: LogsInvocation | 'help';
  try {
    invocation = parseLogsArguments(args);
  } catch (err) {
    if (!(err instanceof LogsUsageError)) throw err;
    process.stderr.write(`immortalctl logs: ${err.message}; see immortalctl logs --help\n`);
    return 1;
  }
  if (invocation === 'help') {
    process.stdout.write(LOGS_USAGE);
    return 0;
  }
  const { name, follow, lines } = invocation;
  let logFile: string;
  try {
    logFile = await locateLogFile(name);
  } catch (err) {
    process.stderr.write(`immortalctl logs: ${(err as Error).message}\n`);
    return 1;
  }
  let tail;
  try {
    tail = lastLines(logFile, lines);
  } catch (err) {
    if (!follow || (err as NodeJS.ErrnoException).code !== 'ENOENT') {
      process.stderr.write(`immortalctl logs: ${name}: cannot read ${logFile}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  if (tail) process.stdout.write(tail.text);
  if (!follow) return 0;
  followLog(logFile, (bytes) => process.stdout.write(bytes), {
    from: tail,
    notice: (message) => process.stderr.write(`immortalctl logs: ${message}\n`),
  });
  return new Promise<number>(() => {}); // until Ctrl-C
}

/** The service's log file, as the immortaldir running it knows it. */
async function locateLogFile(name: string): Promise<string> {
  const socketPath = path.join(systemSuperviseRoot(), IMMORTALDIR_SOCKET);
  let reply: { status: number; body: string };
  try {
    reply = await getOverSocket(socketPath, `/api/services/${encodeURIComponent(name)}`);
  } catch (err) {
    throw new Error(`${name}: no immortaldir answers on ${socketPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
      `logs reads the file an immortaldir's service names; for a standalone immortal use tail -F on its -l file`);
  }
  if (reply.status === 404) throw new Error(`${name}: no such service in the immortaldir on ${socketPath}`);
  if (reply.status !== 200) throw new Error(`${name}: ${socketPath} answered ${reply.status}: ${reply.body.trim()}`);
  const record = JSON.parse(reply.body) as ServiceRecord;
  if (!record.logFile) throw new Error(`${name}: its run.yml names no log file (its output goes to immortaldir's stdout/stderr or to its logger:)`);
  return record.logFile;
}

function getOverSocket(socketPath: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: urlPath, headers: { Host: 'localhost' }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}
