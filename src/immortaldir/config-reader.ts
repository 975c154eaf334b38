// immortaldir reads its *.yml files in a short-lived child process (read-service-files.ts),
// never in its own: the YAML parser and the config checks take 1.7 MB of V8 heap once loaded
// and used, more than the hundred services they describe (docs/performance.md, "Sixth round").
// A process that runs for months so holds none of it, as `immortal`'s supervising half holds
// none (supervise/config-handover.ts). The child gets the files on stdin and answers, on
// stdout, each file's checked Config or its one-line error, as JSON: the same JSON hand-over.

import net from 'node:net';
import path from 'node:path';
import type { Config, LoadContext } from '../config/config';
import { closeFd, kill, pipe, spawn, type ExitStatus } from '../native';
import { onChildExit } from '../process/reaper';

/** One file to read: its service name (the supervise dir under $IMMORTAL_SDIR) and path. */
export interface ReadRequest {
  name: string;
  file: string;
}

/** What the child sends: the whole request, so JSON carries it as one object. */
export interface ReaderInput {
  context: LoadContext;
  files: ReadRequest[];
}

/** A file's checked Config, or why it cannot run (a one-line error naming file and key). */
export type ReadResult = { config: Config; error?: undefined } | { config?: undefined; error: string };

/** Reading never takes this long unless a file hangs (a dead NFS mount): the child is killed. */
const readTimeoutMs = 30_000;

const childScript = path.join(__dirname, 'read-service-files.js');

/**
 * Each file's result, by service name. When the child itself fails (it cannot start, it dies,
 * it hangs), every file gets that as its error and `failed` is set: the caller reads them
 * again at its next scan instead of keeping the error as the file's. `cancel` (immortaldir
 * stopping) kills the child; the promise settles once it is reaped, so none is left behind.
 */
export async function readServiceFiles(files: ReadRequest[], context: LoadContext, cancel?: AbortSignal): Promise<{ results: Map<string, ReadResult>; failed: boolean }> {
  try {
    const answer = await runReader({ context, files }, cancel);
    const results = new Map<string, ReadResult>();
    for (const { name } of files) {
      const result = answer[name];
      if (result?.config === undefined && typeof result?.error !== 'string') throw new Error(`no answer for ${name}`);
      results.set(name, result);
    }
    return { results, failed: false };
  } catch (err) {
    const error = `cannot read: the run.yml reader failed: ${(err as Error).message}`;
    return { results: new Map(files.map(({ name }) => [name, { error }])), failed: true };
  }
}

/** Starts the child, feeds it the request, and parses its whole stdout once it exited with 0. */
function runReader(input: ReaderInput, cancel?: AbortSignal): Promise<Record<string, ReadResult>> {
  if (cancel?.aborted) return Promise.reject(new Error('cancelled'));
  const [requestRead, requestWrite] = pipe();
  const [answerRead, answerWrite] = pipe();
  let pid: number;
  try {
    const env = Object.entries(process.env).map(([key, value]) => `${key}=${value}`);
    // Its stderr is ours: a crash's stack trace lands in immortaldir's log, where it is looked for.
    ({ pid } = spawn({ file: process.execPath, argv: [process.execPath, childScript], env, stdio: [requestRead, answerWrite, 2] }));
  } catch (err) {
    for (const fd of [requestRead, requestWrite, answerRead, answerWrite]) closeFd(fd);
    throw err;
  }
  closeFd(requestRead);
  closeFd(answerWrite);
  const exited = new Promise<ExitStatus>((resolve) => onChildExit(pid, resolve));
  const stop = () => kill(pid, 'SIGKILL');
  cancel?.addEventListener('abort', stop, { once: true });
  const request = new net.Socket({ fd: requestWrite, readable: false, writable: true });
  request.on('error', () => request.destroy()); // EPIPE: the child died; its exit status says why
  request.end(JSON.stringify(input));
  const answer = new net.Socket({ fd: answerRead, readable: true, writable: false });
  const chunks: Buffer[] = [];
  answer.on('data', (chunk: Buffer) => chunks.push(chunk));
  const drained = new Promise<void>((resolve) => {
    answer.on('close', () => resolve());
    answer.on('error', () => answer.destroy());
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      stop();
      reject(new Error(`no answer within ${readTimeoutMs / 1000} s (a file that cannot be read?)`));
    }, readTimeoutMs);
  });
  return Promise.race([Promise.all([exited, drained]), timedOut]).then(([status]) => {
    if (status.code !== 0) throw new Error(status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, ReadResult>;
  }).finally(() => {
    clearTimeout(timer);
    cancel?.removeEventListener('abort', stop);
    request.destroy();
    answer.destroy();
  });
}
