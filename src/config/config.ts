// Flags and run.yml become one validated Config. Every error names the file and key.
// run.yml keys override the corresponding flags; relative paths in run.yml resolve against
// the file's directory, those from flags against the current directory.

import fs from 'node:fs';
import path from 'node:path';
import { Document, isScalar } from 'yaml';
import type { Flags } from '../cli/flags';
import { ConfigError, LogSection, parseServiceFile, ServiceFile } from './run-yml';
import { systemSuperviseRoot, userSuperviseRoot } from '../supervise-dir/roots';

export { ConfigError } from './run-yml';

export interface LogConfig {
  /** Absolute path of the log file. */
  file: string;
  /** Rotate when the file is older than this many seconds; 0 = never by age. */
  age: number;
  /** Rotated files kept (app.log.1 … app.log.N); 0 with age/size set means keep 1? see docs. */
  num: number;
  /** Rotate when larger than this many MB (fractional allowed); 0 = never by size. */
  size: number;
  /** Prefix each line with an RFC 3339 timestamp with milliseconds. */
  timestamp: boolean;
}

export interface SocketConfig {
  /** Mode of immortal.sock; default 0o600. */
  mode: number;
  /** Group that owns immortal.sock (name or gid), default the supervisor's. */
  group?: string;
}

export interface Config {
  /** Absolute path of the run.yml it came from, when -c was used. */
  configFile?: string;
  /** Service argv: run.yml `cmd` split on whitespace, or the command-line words. */
  command: string[];
  /** Absolute, existing directory; undefined = inherit. */
  cwd?: string;
  /** run.yml `env`, values as their source text (yaml.v2 semantics). */
  env: Record<string, string>;
  /** -e envdir / run.yml `envdir` (absolute, an existing directory). */
  envDir?: string;
  pid: {
    /** -f / pid.follow */
    follow?: string;
    /** -P / pid.parent: the supervisor's own pid */
    parent?: string;
    /** -p / pid.child */
    child?: string;
  };
  log?: LogConfig;
  stderr?: LogConfig;
  logger?: string;
  user?: string;
  /** Seconds before the first start. */
  wait: number;
  /** -1 forever, 0 run once, n → at most n+1 runs. */
  retries: number;
  require: string[];
  requireCmd?: string;
  postExit?: string;
  /** Seconds between TERM and KILL on stop (run.yml `stop_timeout`), default 10. */
  stopTimeout: number;
  /** Crash-loop backoff cap in seconds (run.yml `backoff.cap`), default 30; 0 disables backoff. */
  backoffCap: number;
  /** Seconds of uptime after which the backoff resets (run.yml `backoff.reset`), default 60. */
  backoffReset: number;
  socket: SocketConfig;
  /** Absolute supervise directory (lock, immortal.sock). */
  superviseDir: string;
  /** Service name: basename of superviseDir. */
  name: string;
  /** -n: stay in the foreground. */
  foreground: boolean;
}

const DEFAULT_STOP_TIMEOUT = 10;
const DEFAULT_BACKOFF_CAP = 30;
const DEFAULT_BACKOFF_RESET = 60;
const DEFAULT_SOCKET_MODE = 0o600;

export interface LoadContext {
  /** The supervisor's pid: names the supervise dir of a plain command-line run. */
  pid: number;
  /** Home of the supervisor's user: ~/.immortal lives there. */
  home: string;
  /** The supervisor's uid: -u to another user needs 0. */
  uid: number;
}

/** A value together with where it came from (`web.yml: cwd` or `-d`), for error messages. */
interface Sourced<T> {
  value: T;
  label: string;
}

function pick<T>(file: ServiceFile | undefined, fileValue: T | undefined, fileKey: string,
  flagValue: T | undefined, flagName: string): Sourced<T> | undefined {
  if (file && fileValue !== undefined) return { value: fileValue, label: `${file.label}: ${fileKey}` };
  if (flagValue !== undefined) return { value: flagValue, label: flagName };
  return undefined;
}

function fromFlagPath(value: string | undefined): string | undefined {
  return value === undefined ? undefined : path.resolve(value);
}

function readServiceFile(file: string): ServiceFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read (${errnoText(err)})`);
  }
  return parseServiceFile(text, file, path.resolve(file));
}

function errnoText(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  return code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code ?? message;
}

/** Merges flags and the -c file into one Config and checks everything a start would need. */
export function loadConfig(flags: Flags, env: NodeJS.ProcessEnv, ctx: LoadContext): Config {
  const file = flags.config !== undefined ? readServiceFile(flags.config) : undefined;
  const command = resolveCommand(flags, file);
  const cwd = pick(file, file?.cwd, 'cwd', fromFlagPath(flags.dir), '-d');
  const envDir = pick(file, file?.envdir, 'envdir', fromFlagPath(flags.envDir), '-e');
  const log = mergeLog(file, 'log', file?.log, fromFlagPath(flags.log), '-l');
  const stderr = mergeLog(file, 'stderr', file?.stderr, undefined, '');
  const user = pick(file, file?.user, 'user', flags.user, '-u');
  const pid = {
    follow: pick(file, file?.pid.follow, 'pid.follow', fromFlagPath(flags.follow), '-f'),
    parent: pick(file, file?.pid.parent, 'pid.parent', fromFlagPath(flags.parentPid), '-P'),
    child: pick(file, file?.pid.child, 'pid.child', fromFlagPath(flags.childPid), '-p'),
  };

  if (cwd) checkDirectory(cwd);
  if (envDir) checkDirectory(envDir, fs.constants.R_OK | fs.constants.X_OK);
  for (const written of [log && { ...log, value: log.value.file }, stderr && { ...stderr, value: stderr.value.file }, pid.parent, pid.child]) {
    if (written) checkWritableFile(written);
  }
  if (log && stderr && log.value.file === stderr.value.file) {
    throw new ConfigError(`${stderr.label}: same file as log.file; leave stderr: out to log both streams together`);
  }
  if (user) checkUser(user, ctx.uid);

  const superviseDir = resolveSuperviseDir(flags, env, ctx);
  return {
    configFile: file?.path,
    command,
    cwd: cwd?.value,
    env: file?.env ?? {},
    envDir: envDir?.value,
    pid: { follow: pid.follow?.value, parent: pid.parent?.value, child: pid.child?.value },
    log: log?.value,
    stderr: stderr?.value,
    logger: pick(file, file?.logger, 'logger', flags.logger, '-logger')?.value,
    user: user?.value,
    wait: file?.wait ?? flags.wait ?? 0,
    retries: file?.retries ?? flags.retries ?? -1,
    require: file?.require ?? [],
    requireCmd: file?.requireCmd,
    postExit: file?.postExit,
    stopTimeout: file?.stopTimeout ?? DEFAULT_STOP_TIMEOUT,
    backoffCap: file?.backoff.cap ?? DEFAULT_BACKOFF_CAP,
    backoffReset: file?.backoff.reset ?? DEFAULT_BACKOFF_RESET,
    socket: { mode: file?.socket.mode ?? DEFAULT_SOCKET_MODE, ...(file?.socket.group !== undefined && { group: file.socket.group }) },
    superviseDir,
    name: path.basename(superviseDir),
    foreground: flags.foreground,
  };
}

function resolveCommand(flags: Flags, file: ServiceFile | undefined): string[] {
  if (file) {
    if (file.cmd === undefined) throw new ConfigError(`${file.label}: cmd: missing (the command to supervise)`);
    if (file.cmd.length === 0) throw new ConfigError(`${file.label}: cmd: empty`);
    return file.cmd;
  }
  if (flags.command.length === 0) throw new ConfigError('missing command (or -c run.yml)');
  return [...flags.command];
}

/** The file's log section completed by -l; a section without a file has nowhere to write. */
function mergeLog(file: ServiceFile | undefined, key: string, section: LogSection | undefined,
  flagFile: string | undefined, flagName: string): Sourced<LogConfig> | undefined {
  const source = pick(file, section?.file, `${key}.file`, flagFile, flagName);
  if (!source) {
    if (section && file) throw new ConfigError(`${file.label}: ${key}.file: missing (${key}: needs a file)`);
    return undefined;
  }
  return {
    label: source.label,
    value: {
      file: source.value,
      age: section?.age ?? 0,
      num: section?.num ?? 0,
      size: section?.size ?? 0,
      timestamp: section?.timestamp ?? false,
    },
  };
}

/** `what` says what the path is to the operator: "directory /srv/app" or "/var/log/app.log: directory /var/log". */
function statOrFail(target: Sourced<string>, what: string): fs.Stats {
  try {
    return fs.statSync(target.value);
  } catch (err) {
    throw new ConfigError(`${target.label}: ${what}: ${errnoText(err)}`);
  }
}

function checkDirectory(dir: Sourced<string>, access = fs.constants.X_OK): void {
  if (!statOrFail(dir, `directory ${dir.value}`).isDirectory()) throw new ConfigError(`${dir.label}: not a directory: ${dir.value}`);
  try {
    fs.accessSync(dir.value, access);
  } catch {
    throw new ConfigError(`${dir.label}: directory ${dir.value}: permission denied`);
  }
}

/** Logs and pidfiles are created (pidfiles by rename), so their directory must exist and be writable. */
function checkWritableFile(file: Sourced<string>): void {
  if (fs.existsSync(file.value) && fs.statSync(file.value).isDirectory()) {
    throw new ConfigError(`${file.label}: ${file.value} is a directory`);
  }
  const dir = { ...file, value: path.dirname(file.value) };
  if (!statOrFail(dir, `${file.value}: directory ${dir.value}`).isDirectory()) throw new ConfigError(`${file.label}: not a directory: ${dir.value}`);
  try {
    fs.accessSync(dir.value, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new ConfigError(`${file.label}: directory ${dir.value} is not writable`);
  }
}

/** The addon is loaded on first use so that checking a file that names no user never needs it. */
function lookupUser(nameOrUid: string | number): import('../native').UserInfo {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const native = require('../native') as typeof import('../native');
  return native.lookupUser(nameOrUid);
}

function checkUser(user: Sourced<string>, supervisorUid: number): void {
  let uid: number;
  try {
    uid = lookupUser(/^\d+$/.test(user.value) ? Number(user.value) : user.value).uid;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOUSER') throw new ConfigError(`${user.label}: unknown user ${JSON.stringify(user.value)}`);
    throw new ConfigError(`${user.label}: cannot look up user ${JSON.stringify(user.value)}: ${(err as Error).message}`);
  }
  if (supervisorUid !== 0 && uid !== supervisorUid) {
    throw new ConfigError(`${user.label}: running as ${JSON.stringify(user.value)} needs root (immortal runs as uid ${supervisorUid})`);
  }
}

/** A supervise dir name becomes one path component: no slashes, no `..` escaping the root. */
function plainName(name: string, flag: string): string {
  const normal = path.normalize(name);
  if (normal === '' || normal === '.' || normal === '..' || normal.includes('/')) {
    throw new ConfigError(`${flag} ${name}: expected a plain name (or, for -ctl, an absolute path)`);
  }
  return normal;
}

/** -ctl dir | -name n | the -c file's name | the supervisor's pid, in that order. */
export function resolveSuperviseDir(flags: Pick<Flags, 'ctl' | 'name' | 'config'>, env: NodeJS.ProcessEnv, ctx: LoadContext): string {
  if (flags.ctl !== undefined) {
    if (path.isAbsolute(flags.ctl)) return path.resolve(flags.ctl);
    return path.resolve(systemSuperviseRoot(env), plainName(flags.ctl, '-ctl'));
  }
  const home = userSuperviseRoot(ctx.home);
  if (flags.name !== undefined) return path.join(home, plainName(flags.name, '-name'));
  if (flags.config !== undefined) return path.join(home, serviceNameOf(flags.config));
  return path.join(home, String(ctx.pid));
}

/** `/etc/immortal/web.yml` → `web`. */
export function serviceNameOf(configFile: string): string {
  return path.basename(configFile).replace(/\.ya?ml$/, '') || path.basename(configFile);
}

/** What `immortal -cc` prints: run.yml spelling, absolute paths, defaults filled in, stable order. */
export function configToYaml(config: Config): string {
  const pid = definedOnly({ follow: config.pid.follow, parent: config.pid.parent, child: config.pid.child });
  const service = definedOnly({
    cmd: config.command.join(' '),
    cwd: config.cwd,
    env: Object.keys(config.env).length > 0 ? sortedEnv(config.env) : undefined,
    envdir: config.envDir,
    pid: Object.keys(pid).length > 0 ? pid : undefined,
    log: config.log && logToYaml(config.log),
    stderr: config.stderr && logToYaml(config.stderr),
    logger: config.logger,
    user: config.user,
    wait: config.wait,
    retries: config.retries,
    require: config.require.length > 0 ? config.require : undefined,
    require_cmd: config.requireCmd,
    post_exit: config.postExit,
    stop_timeout: config.stopTimeout,
    backoff: { cap: config.backoffCap, reset: config.backoffReset },
    socket: definedOnly({ mode: config.socket.mode, group: config.socket.group }),
  });
  const doc = new Document(service, { version: '1.1' });
  const mode = doc.getIn(['socket', 'mode'], true);
  if (isScalar(mode)) mode.format = 'OCT';
  doc.commentBefore = ` service ${config.name}, supervise dir ${config.superviseDir}`;
  return doc.toString();
}

function logToYaml(log: LogConfig): Record<string, unknown> {
  return { file: log.file, age: log.age, num: log.num, size: log.size, timestamp: log.timestamp };
}

function sortedEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(env).sort().map((key) => [key, env[key]]));
}

function definedOnly<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}
