// The one error type of the config layer: a configuration problem the operator must fix.

/** A configuration problem: one line, naming the file (or flag) and the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    // Callers print message as is; a stray newline from a library would break "one line".
    super(message.replace(/\s*\n\s*/g, ' '));
    this.name = 'ConfigError';
  }
}

/** An errno as the operator reads it in a one-line message. */
export function errnoText(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  return code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code ?? message;
}
