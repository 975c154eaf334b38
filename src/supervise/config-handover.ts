// The checked Config, handed from the process that read run.yml and the flags to the one
// that supervises (the detached copy, or this same pid after execve for -n), as JSON in one
// environment variable. The supervising process so never loads the YAML reader, the flag
// parser or the checks (docs/performance.md: −2.5 MiB per supervisor); it removes the
// variable on read, so the service never inherits it.

import type { Config } from '../config/config';

export const configHandoverEnv = 'IMMORTAL_CONFIG_JSON';

/**
 * The JSON form, or undefined when config would not come back the same (a field JSON cannot
 * carry): the caller then supervises in the process that read the config, as before.
 */
export function encodeConfig(config: Config): string | undefined {
  return survivesJson(config) ? JSON.stringify(config) : undefined;
}

/**
 * Whether JSON gives value back the same: plain objects, arrays, strings, finite numbers,
 * booleans, null; undefined as a field (dropped, reads back the same).
 */
export function survivesJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      if (value === null) return true;
      if (Array.isArray(value)) return value.every((item) => item !== undefined && survivesJson(item));
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      return Object.values(value).every((field) => field === undefined || survivesJson(field));
    default:
      return false;
  }
}

/** The handed-over config, or undefined when none was; the variable is gone afterwards. */
export function takeHandedOverConfig(env: NodeJS.ProcessEnv = process.env): Config | undefined {
  const json = env[configHandoverEnv];
  if (json === undefined) return undefined;
  delete env[configHandoverEnv];
  return JSON.parse(json) as Config;
}
