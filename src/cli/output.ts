// The supervisor's own messages. A foreground run whose terminal or pipe went away must
// keep supervising: write errors (EPIPE) are swallowed and further writes skipped.

let stderrBroken = false;

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
    process.stderr.write(`${new Date().toISOString()} ${name}: ${line}\n`);
  };
}
