// The input (flags, or what immortaldir knows) and the run.yml become one validated Config.
// The run.yml wins key by key over the input field its entry names; relative paths in the file
// resolve against its directory, those from the input against the current directory. Every
// problem is one ConfigError naming the file and key, or the input field as the operator spelled it.

import path from 'node:path';
import type { Config } from './config';
import { ConfigError } from './errors';
import { type ConfigInput, type LoadContext, labelOf } from './input';
import { KEY_RULES, type KeyEntry, RUN_YML_KEYS, type Sourced } from './keys';
import { readRunYml, type RunYml } from './run-yml';
import { resolveSuperviseDir } from './supervise-dir-name';

/** Merges the input and its run.yml (input.config) into one Config, checking all a start needs. */
export function loadConfig(input: ConfigInput, env: NodeJS.ProcessEnv, ctx: LoadContext): Config {
  const file = input.config !== undefined ? readRunYml(input.config) : undefined;
  const values = mergeValues(input, file);
  for (const entry of RUN_YML_KEYS) {
    const sourced = values.get(entry.name);
    if (entry.verify && sourced) entry.verify(sourced.value, sourced.label, ctx);
  }
  for (const rule of KEY_RULES) {
    const problem = rule.broken((name) => values.get(name));
    if (problem) throw new ConfigError(problem);
  }
  const superviseDir = resolveSuperviseDir(input, env, ctx);
  const config: Record<string, unknown> = { configFile: file?.path, superviseDir, name: path.basename(superviseDir), foreground: input.foreground };
  for (const entry of RUN_YML_KEYS) {
    // A section of Config exists whenever it may (pid: {} with nothing set), unless its required key is unset.
    const section = sectionOf(entry.field);
    const anchor = sectionAnchor(entry);
    if (section !== undefined && (anchor === undefined || values.has(anchor))) objectAt(config, section);
    const sourced = values.get(entry.name);
    if (sourced) objectAt(config, section)[entry.field.slice(section === undefined ? 0 : section.length + 1)] = sourced.value;
  }
  return config as unknown as Config;
}

/** Options of a run.yml loaded on its own (immortaldir): no command line around it. */
export interface ServiceFileOptions {
  /** Supervise dir: absolute, or a plain name under $IMMORTAL_SDIR. */
  ctl?: string;
  /** Stay in the foreground (immortaldir runs every service in its own process). */
  foreground?: boolean;
}

/** A Config from one run.yml and nothing else. */
export function loadServiceFile(file: string, options: ServiceFileOptions, env: NodeJS.ProcessEnv, ctx: LoadContext): Config {
  return loadConfig({ config: file, command: [], ctl: options.ctl, foreground: options.foreground ?? true }, env, ctx);
}

/**
 * Each key's value: the file's, else the input's, else the default; with where it came from.
 * A section whose required key ends up unset is left out whole (log: without a file).
 */
function mergeValues(input: ConfigInput, file: RunYml | undefined): Map<string, Sourced> {
  const values = new Map<string, Sourced>();
  for (const entry of RUN_YML_KEYS) {
    const fromInput = inputValue(entry, input);
    if (file?.values.has(entry.name)) values.set(entry.name, { value: file.values.get(entry.name), label: `${file.label}: ${entry.name}` });
    else if (fromInput !== undefined) values.set(entry.name, fromInput);
  }
  for (const entry of RUN_YML_KEYS) {
    if (!entry.required || values.has(entry.name)) continue;
    const section = entry.name.includes('.') ? entry.name.slice(0, entry.name.lastIndexOf('.')) : undefined;
    if (section === undefined) throw new ConfigError(`missing ${entry.input ? labelOf(input, entry.input) : entry.name} (or -c run.yml)`);
    if (file?.sections.has(section)) throw new ConfigError(`${file.label}: ${entry.name}: missing (${entry.required})`);
  }
  for (const entry of RUN_YML_KEYS) {
    const anchor = sectionAnchor(entry);
    if (anchor !== undefined && !values.has(anchor)) values.delete(entry.name);
    else if (!values.has(entry.name) && entry.default !== undefined) values.set(entry.name, { value: structuredClone(entry.default), label: 'default' });
  }
  return values;
}

/** The input field's value for this key, checked by the key's rule; undefined when not given. */
function inputValue(entry: KeyEntry, input: ConfigInput): Sourced | undefined {
  if (entry.input === undefined) return undefined;
  const raw = input[entry.input];
  const value = entry.type.fromInput ? entry.type.fromInput(raw) : raw;
  if (value === undefined) return undefined;
  const label = labelOf(input, entry.input);
  const problem = entry.check?.problem(value);
  if (problem) throw new ConfigError(`${label}: ${problem}`);
  return { value, label };
}

/** The required key of the entry's section (`log.file` for `log.age`), if the section has one. */
function sectionAnchor(entry: KeyEntry): string | undefined {
  const dot = entry.name.lastIndexOf('.');
  if (dot < 0) return undefined;
  const section = entry.name.slice(0, dot + 1);
  return RUN_YML_KEYS.find((other) => other.required && other.name.startsWith(section) && !other.name.slice(section.length).includes('.'))?.name;
}

/** `pid` for `pid.follow`; undefined for a top-level field. */
function sectionOf(field: string): string | undefined {
  const dot = field.lastIndexOf('.');
  return dot < 0 ? undefined : field.slice(0, dot);
}

/** The object at a dotted path of target, created if missing; target itself for undefined. */
function objectAt(target: Record<string, unknown>, dotted: string | undefined): Record<string, unknown> {
  let object = target;
  for (const name of dotted?.split('.') ?? []) object = (object[name] ??= {}) as Record<string, unknown>;
  return object;
}
