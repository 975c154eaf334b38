// The supervisor's own messages. A foreground run whose terminal or pipe went away must
// keep supervising: write errors (EPIPE) are swallowed and further writes skipped; a reader
// that stays open but stops reading costs at most maxQueuedBytes, then lines are dropped.

let stderrBroken = false;
let droppedLines = 0;
const maxQueuedBytes = 1024 * 1024;

export function guardStdio(): void {
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {
    stderrBroken = true;
  });
}

/** Lines like `2026-11-28T22:52:09.123Z web: started 1234: sleep 60` on stderr. */
export function supervisorLogger(name: string): (line: string) => void {
  return (line) => {
    if (stderrBroken) return;
    if (process.stderr.writableLength > maxQueuedBytes) {
      droppedLines++;
      return;
    }
    const dropped = droppedLines > 0 ? ` (${droppedLines} earlier lines dropped: stderr not read)` : '';
    droppedLines = 0;
    process.stderr.write(`${new Date().toISOString()} ${name}: ${line}${dropped}\n`);
  };
}

/**
 * A bug in our own code must not leave the service unsupervised: the error is logged and
 * the event loop goes on (the state machine's transitions are each complete before any
 * callback runs, so a throw inside one event leaves the others intact).
 */
export function keepSupervisingOnInternalErrors(log: (line: string) => void): void {
  process.on('uncaughtException', (err) => log(`internal error, still supervising: ${err.stack ?? err}`));
  process.on('unhandledRejection', (err) => log(`internal error, still supervising: ${(err as Error)?.stack ?? err}`));
}
