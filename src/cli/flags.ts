// Command-line flags of `immortal`, spelled like the Go original (`-cc`, `-ctl`, `-name`,
// `-logger` are whole words) with `--long` aliases, mapped onto the config layer's ConfigInput.
// Parsing only: values are checked for their own shape here; ranges, paths, users and the
// run.yml are checked by loadConfig.

import { Command, CommanderError, Help, Option } from 'commander';
import { ConfigError } from '../config/errors';
import type { ConfigInput, InputLabels } from '../config/input';

/** What argv says: the config layer's input (-c, -d, -n …, the command words) plus what only the CLI acts on. */
export interface Flags extends Omit<ConfigInput, 'labels'> {
  /** -v: print the version and exit. */
  version: boolean;
  /** -h/--help: print the flag list and exit. */
  help: boolean;
  /** -cc: check the -c file, print it normalized, exit. */
  check: boolean;
}

type FlagKey = Exclude<keyof Flags, 'command' | 'labels'>;

interface FlagSpec {
  key: FlagKey;
  /** Spellings the original accepts with one dash (a letter or a whole word). */
  goName: string;
  /** Our canonical long spelling, without dashes. */
  long: string;
  /** Other long spellings, rewritten to `long` before commander sees them. */
  aliases?: string[];
  /** Placeholder of the value; absent for booleans. */
  value?: string;
  help: string;
  parse?: (raw: string, flag: string) => number;
}

/** Integer, possibly negative: `-r -1` is the usual spelling of "forever". */
function parseInteger(raw: string, flag: string): number {
  if (!/^[+-]?\d+$/.test(raw.trim())) throw new ConfigError(`${flag}: expected an integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function parseSeconds(raw: string, flag: string): number {
  const seconds = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new ConfigError(`${flag}: expected a number of seconds, got ${JSON.stringify(raw)}`);
  }
  return seconds;
}

const FLAG_SPECS: FlagSpec[] = [
  { key: 'version', goName: 'v', long: 'version', help: 'print the version and exit' },
  { key: 'help', goName: 'h', long: 'help', help: 'print this help and exit' },
  { key: 'foreground', goName: 'n', long: 'foreground', help: 'stay in the foreground (do not detach)' },
  { key: 'check', goName: 'cc', long: 'check', aliases: ['cc'], help: 'check the -c file: print it normalized and exit' },
  { key: 'config', goName: 'c', long: 'config', value: 'run.yml', help: 'service file; its keys override the flags' },
  { key: 'ctl', goName: 'ctl', long: 'ctl', value: 'dir', help: 'supervise dir; a plain name goes under $IMMORTAL_SDIR' },
  { key: 'name', goName: 'name', long: 'name', value: 'name', help: 'supervise dir ~/.immortal/<name>' },
  { key: 'dir', goName: 'd', long: 'dir', value: 'dir', help: 'change to dir before starting the command' },
  { key: 'envDir', goName: 'e', long: 'envdir', value: 'dir', help: 'add NAME=<first line> for each file NAME in dir' },
  { key: 'follow', goName: 'f', long: 'follow', value: 'pidfile', help: 'follow the pid written in pidfile' },
  { key: 'log', goName: 'l', long: 'log', value: 'logfile', help: "write the command's stdout and stderr to logfile" },
  { key: 'logger', goName: 'logger', long: 'logger', value: 'command', help: 'also pipe stdout and stderr into command (run by sh -c)' },
  { key: 'childPid', goName: 'p', long: 'pid', value: 'file', help: "write the command's pid to file on every start" },
  { key: 'parentPid', goName: 'P', long: 'ppid', aliases: ['supervisor-pid'], value: 'file', help: "write the supervisor's own pid to file" },
  { key: 'retries', goName: 'r', long: 'retries', value: 'n', help: '-1 restart forever (default), 0 run once, n: at most n+1 runs', parse: parseInteger },
  { key: 'user', goName: 'u', long: 'user', value: 'user', help: 'run the command as user (needs root)' },
  { key: 'wait', goName: 'w', long: 'wait', value: 'seconds', help: 'wait before the first start', parse: parseSeconds },
];

const specByGoName = new Map(FLAG_SPECS.map((spec) => [spec.goName, spec]));
const specByLong = new Map(FLAG_SPECS.flatMap((spec) => [spec.long, ...(spec.aliases ?? [])].map((name) => [name, spec])));

function displayName(spec: FlagSpec): string {
  return `-${spec.goName}`;
}

/**
 * Rewrites every option word before the command into `--long` spelling, so commander never
 * reads `-cc` as `-c c` and Go habits (`-ctl=web`, `--r 3`) keep working. Stops at `--` or
 * at the first non-option word: from there on every word belongs to the child.
 */
function normalizeArgv(argv: string[]): string[] {
  const out: string[] = [];
  let index = 0;
  while (index < argv.length) {
    const word = argv[index++];
    if (word === '--' || word === '-' || !word.startsWith('-')) {
      out.push(word, ...argv.slice(index));
      return out;
    }
    const match = /^--?([^=]+)(=.*)?$/.exec(word);
    const spec = match ? lookupSpelling(match[1]) : undefined;
    if (!match || !spec) {
      // Unknown to us: a cluster like `-nc file`, or a mistake. Name a mistake as typed:
      // commander would read `-nosuch` as `-n -osuch` and blame `-osuch`.
      if (!isShortCluster(word)) throw new ConfigError(`unknown option ${word.split('=')[0]}`);
      out.push(word);
      if (takesNextWord(word)) out.push(...argv.slice(index, ++index));
      continue;
    }
    if (!spec.value && match[2] !== undefined) {
      // Go's flag package takes `-n=true` / `-n=false` for booleans.
      if (goBoolean(match[2].slice(1), displayName(spec))) out.push(`--${spec.long}`);
      continue;
    }
    out.push(`--${spec.long}${match[2] ?? ''}`);
    if (spec.value && match[2] === undefined && index < argv.length) out.push(argv[index++]);
  }
  return out;
}

/**
 * Go's flag package reads one or two dashes alike (`--r 3`, `-ctl=web`); we also take our long
 * names after one dash (`-help`, `-dir`), which Go habits produce.
 */
function lookupSpelling(name: string): FlagSpec | undefined {
  return specByGoName.get(name) ?? specByLong.get(name);
}

function goBoolean(raw: string, flag: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw)) return false;
  throw new ConfigError(`${flag}: expected true or false, got ${JSON.stringify(raw)}`);
}

/** `-nc`: single letters we know, a value-taking one only last. */
function isShortCluster(word: string): boolean {
  if (word.startsWith('--') || word.length < 3) return false;
  const letters = [...word.slice(1)];
  return letters.every((letter, i) => {
    const spec = specByGoName.get(letter);
    return spec !== undefined && (!spec.value || i === letters.length - 1);
  });
}

/** For a short cluster (`-nc`), whether its last value-taking letter swallows the next word. */
function takesNextWord(word: string): boolean {
  if (word.startsWith('--')) return false;
  const letters = word.slice(1);
  for (let i = 0; i < letters.length; i++) {
    const spec = specByGoName.get(letters[i]);
    if (!spec) return false;
    if (spec.value) return i === letters.length - 1;
  }
  return false;
}

function buildProgram(): Command {
  const program = new Command('immortal')
    .usage('[-v] [-n] [-cc] [-c run.yml] [-ctl dir] [-name name] [-d dir] [-e envdir] [-f pidfile] [-l logfile]\n'
      + '                [-logger command] [-p child_pidfile] [-P supervisor_pidfile] [-r retries] [-u user]\n'
      + '                [-w seconds] command [args...]')
    .description('Supervise one command: restart it when it exits.')
    .helpOption(false)
    .passThroughOptions()
    .allowExcessArguments()
    .argument('[command...]', 'the command to supervise and its arguments')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined })
    .configureHelp({ helpWidth: 110, optionTerm: (option) => helpTerm(option) });
  for (const spec of FLAG_SPECS) program.addOption(toOption(spec));
  return program;
}

function toOption(spec: FlagSpec): Option {
  const short = spec.goName.length === 1 ? `-${spec.goName}, ` : '';
  const option = new Option(`${short}--${spec.long}${spec.value ? ` <${spec.value}>` : ''}`, spec.help);
  const parse = spec.parse;
  if (parse) option.argParser((raw: string) => parse(raw, displayName(spec)));
  return option;
}

function helpTerm(option: Option): string {
  const spec = option.long ? specByLong.get(option.long.slice(2)) : undefined;
  if (!spec) return new Help().optionTerm(option);
  const spellings = [displayName(spec), ...[spec.long, ...(spec.aliases ?? [])].map((name) => `--${name}`)];
  return `${spellings.join(', ')}${spec.value ? ` <${spec.value}>` : ''}`;
}

/** The text printed by `immortal --help`. */
export function helpText(): string {
  return buildProgram().helpInformation();
}

/** The config layer's input from the flags, each field labelled as typed so config errors say `-d: …`. */
export function configInputOf(flags: Flags): ConfigInput {
  // -v, -h and -cc are the CLI's own business: they stay behind.
  const { version, help, check, ...input } = flags;
  return { ...input, labels: flagLabels() };
}

/** Each input field as the operator typed it. */
function flagLabels(): InputLabels {
  const labels: InputLabels = { command: 'command' };
  for (const spec of FLAG_SPECS) {
    if (spec.key !== 'version' && spec.key !== 'help' && spec.key !== 'check') labels[spec.key] = displayName(spec);
  }
  return labels;
}

/** argv is process.argv.slice(2). Throws ConfigError with one line on any bad flag. */
export function parseFlags(argv: string[]): Flags {
  const program = buildProgram();
  try {
    program.parse(normalizeArgv(argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new ConfigError(describeCommanderError(err));
    throw err;
  }
  const flags: Flags = { version: false, help: false, foreground: false, check: false, command: [] };
  const values = program.opts<Record<string, unknown>>();
  for (const spec of FLAG_SPECS) {
    const value = values[new Option(`--${spec.long}`).attributeName()];
    if (value !== undefined) (flags as unknown as Record<string, unknown>)[spec.key] = value;
  }
  flags.command = program.args;
  checkCombination(flags);
  return flags;
}

/** Commander's messages quote its own flag syntax; say it the way the operator typed it. */
function describeCommanderError(err: CommanderError): string {
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? '';
  if (err.code === 'commander.unknownOption') return `unknown option ${quoted}`;
  if (err.code === 'commander.optionMissingArgument') {
    const long = /--([\w-]+)/.exec(quoted)?.[1];
    const spec = long ? specByLong.get(long) : undefined;
    return `${spec ? displayName(spec) : quoted}: missing value`;
  }
  return err.message.replace(/^error: /, '').split('\n')[0];
}

function checkCombination(flags: Flags): void {
  if (flags.help || flags.version) return;
  if (flags.check && !flags.config) throw new ConfigError('-cc: needs -c run.yml');
  if (flags.config && flags.command.length > 0) {
    throw new ConfigError(`-c ${flags.config}: the command comes from cmd: in the file; remove the words after the flags (${flags.command.join(' ')})`);
  }
  if (flags.ctl !== undefined && flags.name !== undefined) throw new ConfigError('-ctl and -name both name the supervise dir; give one');
  // A missing command and the range of -r are the config layer's rules (loadConfig), as for run.yml.
}
