// `GET /metrics`: Prometheus text exposition format 0.0.4. One renderer for one service
// (a supervisor's own socket) or many (immortaldir), so both expose identical families.
// A sample without a meaningful value (no exit yet) is left out rather than faked as 0:
// Prometheus treats an absent series as "unknown", which is the truth.

import type { RestartCause, ServiceUsage, StatusSnapshot } from '../supervise/service';
import { shellExitCode } from '../process/signal-names';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsSource {
  /** The `service` label: the supervise directory's basename. */
  name: string;
  snapshot: StatusSnapshot;
  /** The whole service's processes, memory and CPU; families from it are left out without it. */
  usage?: ServiceUsage;
}

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  /** undefined = no sample for this service. */
  value(snapshot: StatusSnapshot, now: number, usage: ServiceUsage | undefined): number | undefined;
  /** A family with a label besides `service`: one sample per value of it (`cause`). */
  labelled?: { label: string; values: readonly string[]; value(snapshot: StatusSnapshot, labelValue: string): number };
}

/** Every RestartCause, so each counter exists at 0 before its first restart (a rate() needs the 0). */
const RESTART_CAUSES: readonly RestartCause[] = ['health', 'watchdog', 'memory'];

const FAMILIES: readonly Family[] = [
  {
    name: 'immortal_starts_total',
    type: 'counter',
    help: 'Times the service has been started.',
    value: (s) => s.count,
  },
  {
    name: 'immortal_up',
    type: 'gauge',
    help: '1 while the service (or the pid it follows) is running, else 0.',
    value: (s) => (s.running ? 1 : 0),
  },
  {
    name: 'immortal_following',
    type: 'gauge',
    help: '1 while a followed pid (not the direct child) is supervised, else 0.',
    value: (s) => (s.fpid ? 1 : 0),
  },
  {
    name: 'immortal_last_exit_code',
    type: 'gauge',
    help: 'Exit code of the last exit; 128+N when killed by signal N.',
    // -1: an exit whose status only its parent saw (a followed pid).
    value: (s) => (s.lastExit ? shellExitCode(s.lastExit.code, s.lastExit.signal) ?? -1 : undefined),
  },
  {
    name: 'immortal_last_exit_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time of the last exit.',
    value: (s) => (s.lastExit ? s.lastExit.at / 1000 : undefined),
  },
  {
    name: 'immortal_uptime_seconds',
    type: 'gauge',
    help: 'Seconds since the running process started; 0 while down.',
    value: (s, now) => (s.running ? Math.max(0, now - s.since) / 1000 : 0),
  },
  {
    name: 'immortal_start_failures_total',
    type: 'counter',
    help: 'Starts refused by exec (ENOENT, EACCES...).',
    value: (s) => s.startFailures,
  },
  {
    name: 'immortal_backoff_seconds',
    type: 'gauge',
    help: 'Current crash-loop delay added on top of the 1 s restart rule.',
    value: (s) => s.backoffMs / 1000,
  },
  {
    name: 'immortal_log_dropped_lines_total',
    type: 'counter',
    help: 'Log lines dropped (logger buffer full, or log file write errors).',
    value: (s) => s.logDroppedLines,
  },
  {
    name: 'immortal_log_write_error',
    type: 'gauge',
    help: '1 while the log file cannot be written (disk full...), else 0.',
    value: (s) => (s.logError === undefined ? 0 : 1),
  },
  {
    name: 'immortal_service_processes',
    type: 'gauge',
    help: 'Live processes of the whole service (everything it started: its cgroup, or what the supervisor tracked).',
    value: (_s, _now, usage) => usage?.processes,
  },
  {
    name: 'immortal_service_memory_bytes',
    type: 'gauge',
    help: 'Resident memory of all the service\'s processes (memory.current where the cgroup memory controller is on).',
    value: (_s, _now, usage) => usage?.memoryBytes,
  },
  {
    name: 'immortal_service_cpu_seconds_total',
    type: 'counter',
    help: 'CPU seconds (user + system) used by the service\'s processes.',
    value: (_s, _now, usage) => usage?.cpuSeconds,
  },
  {
    name: 'immortal_ready',
    type: 'gauge',
    help: '1 while the service runs and is ready (without ready: as soon as it runs), else 0.',
    value: (s) => (s.ready ?? (s.running ? true : null) ? 1 : 0),
  },
  {
    name: 'immortal_health_failures_total',
    type: 'counter',
    help: 'Failed health: probes since the supervisor began.',
    value: (s) => s.healthFailures ?? 0,
  },
  {
    name: 'immortal_restarts_total',
    type: 'counter',
    help: 'Restarts of the running service the supervisor decided itself, by cause (health, watchdog, memory: restart_if).',
    value: () => undefined,
    labelled: { label: 'cause', values: RESTART_CAUSES, value: (s, cause) => s.restarts?.[cause as RestartCause] ?? 0 },
  },
];

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** The whole exposition for one or many services; families are grouped as the format requires. */
export function renderMetrics(sources: readonly MetricsSource[], now: number): string {
  const lines: string[] = [];
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const source of sources) {
      const service = `service="${escapeLabelValue(source.name)}"`;
      for (const labelValue of family.labelled?.values ?? []) {
        const value = family.labelled!.value(source.snapshot, labelValue);
        lines.push(`${family.name}{${service},${family.labelled!.label}="${escapeLabelValue(labelValue)}"} ${formatValue(value)}`);
      }
      const value = family.value(source.snapshot, now, source.usage);
      if (value === undefined) continue;
      lines.push(`${family.name}{${service}} ${formatValue(value)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Family names, for docs and tests. */
export function metricNames(): string[] {
  return FAMILIES.map((family) => family.name);
}
