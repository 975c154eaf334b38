// What `ready:` and `health:` hold (docs/readiness.md): a small mapping with exactly one way
// to tell (notify / http / tcp / cmd) and its timing. The generic `mapping` type reads the
// shape and the one-of rule; here each kind's value is checked (fd ≥ 3, http:// only, a port)
// and the timing defaults filled in, so the supervisor never sees a half-valid probe.

import { commandLine, mapping, seconds, integer, type ValueType } from './value-types';
import type { YamlReader } from './yaml-reader';

/** How a probe asks: an HTTP GET (2xx), a TCP connect, or `sh -c` exiting 0. */
export type ProbeKind = 'http' | 'tcp' | 'cmd';

export interface ProbeConfig {
  kind: ProbeKind;
  /** The URL, `host:port`, or the command line, as written. */
  target: string;
  /** Seconds between probes. */
  interval: number;
  /** Seconds: one probe's limit (health), or the whole wait (ready). */
  timeout: number;
}

export interface ReadyConfig {
  /** `systemd` (NOTIFY_SOCKET) or an fd number (s6 notification-fd); undefined for a probe. */
  notify?: 'systemd' | number;
  probe?: ProbeConfig;
  interval: number;
  /** Not ready within this many seconds: the start failed. */
  timeout: number;
}

export interface HealthConfig extends ProbeConfig {
  /** Consecutive failed probes that restart the service. */
  failures: number;
}

const PROBE_KINDS: readonly ProbeKind[] = ['http', 'tcp', 'cmd'];

const probeFields = { http: commandLine, tcp: commandLine, cmd: commandLine, interval: seconds, timeout: seconds };

const readyShape = mapping({ notify: commandLine, ...probeFields }, 'mapping', { exactlyOne: ['notify', ...PROBE_KINDS] });
const healthShape = mapping({ ...probeFields, failures: integer }, 'mapping', { exactlyOne: PROBE_KINDS });

function positive(reader: YamlReader, key: string, value: number): number {
  if (!(value > 0)) reader.fail(key, `must be more than 0, got ${value}`);
  return value;
}

/** `fd:N` → N (3 or more: 0, 1, 2 are the service's stdio). */
function notifyFd(reader: YamlReader, key: string, written: string): number {
  const match = /^fd:(\d+)$/.exec(written.trim());
  if (!match) return reader.fail(key, `expected systemd or fd:N (like fd:3), got ${JSON.stringify(written)}`);
  const fd = Number(match[1]);
  if (fd < 3) reader.fail(key, `fd must be 3 or more (0, 1, 2 are stdin, stdout, stderr), got fd:${fd}`);
  if (fd > 1000) reader.fail(key, `fd must be at most 1000, got fd:${fd}`);
  return fd;
}

/** The probe's target, checked for its kind. */
function checkedTarget(reader: YamlReader, key: string, kind: ProbeKind, target: string): string {
  if (kind === 'http') {
    let url: URL | undefined;
    try {
      url = new URL(target);
    } catch {
      url = undefined;
    }
    if (url?.protocol !== 'http:') reader.fail(key, `expected an http:// URL (https is not probed), got ${JSON.stringify(target)}`);
  }
  if (kind === 'tcp') {
    const match = /^(.+):(\d+)$/.exec(target);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) reader.fail(key, `expected host:port (like 127.0.0.1:5432), got ${JSON.stringify(target)}`);
  }
  return target;
}

function probeOf(reader: YamlReader, key: string, raw: Record<string, unknown>, defaults: { interval: number; timeout: number }): ProbeConfig | undefined {
  const kind = PROBE_KINDS.find((name) => raw[name] !== undefined);
  const interval = positive(reader, `${key}.interval`, (raw.interval as number | undefined) ?? defaults.interval);
  const timeout = positive(reader, `${key}.timeout`, (raw.timeout as number | undefined) ?? defaults.timeout);
  if (kind === undefined) return undefined;
  return { kind, target: checkedTarget(reader, `${key}.${kind}`, kind, raw[kind] as string), interval, timeout };
}

/** What -cc prints: the mapping as an operator writes it. */
function probeYaml(probe: ProbeConfig | undefined): Record<string, unknown> {
  return probe ? { [probe.kind]: probe.target } : {};
}

export const readyValue: ValueType<ReadyConfig> = {
  doc: 'mapping: notify / http / tcp / cmd, interval, timeout',
  read(reader, node, key) {
    const raw = readyShape.read(reader, node, key);
    const probe = probeOf(reader, key, raw, { interval: 0.2, timeout: 60 });
    const notify = raw.notify === undefined ? undefined
      : (raw.notify as string).trim() === 'systemd' ? 'systemd' as const : notifyFd(reader, `${key}.notify`, raw.notify as string);
    const interval = positive(reader, `${key}.interval`, (raw.interval as number | undefined) ?? 0.2);
    const timeout = positive(reader, `${key}.timeout`, (raw.timeout as number | undefined) ?? 60);
    return { notify, probe, interval, timeout };
  },
  toYaml: (ready) => ({
    ...(ready.notify === undefined ? {} : { notify: ready.notify === 'systemd' ? 'systemd' : `fd:${ready.notify}` }),
    ...probeYaml(ready.probe),
    interval: ready.interval,
    timeout: ready.timeout,
  }),
};

export const healthValue: ValueType<HealthConfig> = {
  doc: 'mapping: http / tcp / cmd, interval, timeout, failures',
  read(reader, node, key) {
    const raw = healthShape.read(reader, node, key);
    const probe = probeOf(reader, key, raw, { interval: 10, timeout: 2 })!;
    const failures = (raw.failures as number | undefined) ?? 3;
    if (failures < 1) reader.fail(`${key}.failures`, `must be 1 or more, got ${failures}`);
    return { ...probe, failures };
  },
  toYaml: (health) => ({ ...probeYaml(health), interval: health.interval, timeout: health.timeout, failures: health.failures }),
};
