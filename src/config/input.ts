// What a start needs besides the run.yml: the config layer's own input type. The command line
// (cli/flags.ts) fills it from argv; immortaldir fills it for each file it loads. No field
// here knows how it was spelled on a command line.

export interface ConfigInput {
  /** The run.yml to read (-c); its keys override the fields below that they also set. */
  config?: string;
  /** The command and its arguments when there is no run.yml. */
  command: string[];
  /** Stay in the foreground (-n). */
  foreground: boolean;
  /** Supervise dir: absolute, or a plain name under $IMMORTAL_SDIR (-ctl). */
  ctl?: string;
  /** Supervise dir ~/.immortal/<name> (-name). */
  name?: string;
  /** Working directory (-d); relative to the current directory. */
  dir?: string;
  /** envdir (-e). */
  envDir?: string;
  /** Pidfile to follow (-f). */
  follow?: string;
  /** Log file (-l). */
  log?: string;
  /** Logger command (-logger). */
  logger?: string;
  /** Pidfile of the child (-p). */
  childPid?: string;
  /** Pidfile of the supervisor (-P). */
  parentPid?: string;
  /** -1 forever, 0 once, n → at most n+1 runs (-r). */
  retries?: number;
  /** User to run as (-u). */
  user?: string;
  /** Seconds before the first start (-w). */
  wait?: number;
  /** How the operator named each field, for messages (`-d: not a directory`); default the field's name. */
  labels?: InputLabels;
}

/** How the operator named each input field, for error messages: `-d: not a directory`. */
export type InputLabels = Partial<Record<InputField, string>>;

export type InputField = Exclude<keyof ConfigInput, 'labels'>;

/** The label of an input field in messages. */
export function labelOf(input: Pick<ConfigInput, 'labels'>, field: InputField): string {
  return input.labels?.[field] ?? field;
}

export interface LoadContext {
  /** The supervisor's pid: names the supervise dir of a plain command-line run. */
  pid: number;
  /** Home of the supervisor's user: ~/.immortal lives there. */
  home: string;
  /** The supervisor's uid: -u to another user needs 0. */
  uid: number;
}
