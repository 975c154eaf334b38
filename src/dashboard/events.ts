// Server-sent events for the page: a `snapshot` of every record when a page connects, then a
// `change` with only the records that changed (and the names removed). Records are compared
// without `uptime`, which the page counts up by itself from `since`: a quiet directory of
// 200 services sends nothing but a heartbeat. The table is sampled only while a page is open.

import type http from 'node:http';
import type { ServiceRecord } from '../control/record';
import { serviceRecords, type DashboardSource } from './source';

/** A stop or a crash shows on the page within this, plus the time to draw it (SPEC: 1 s). */
export const SAMPLE_INTERVAL_MS = 250;
/** Keeps proxies (nginx: proxy_read_timeout 60 s) from closing an idle stream. */
const HEARTBEAT_MS = 15000;
/** A page that does not read its events is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface EventHubOptions {
  /** Sent with every event: whether the page may offer actions. */
  actions: boolean;
}

export class EventHub {
  private readonly clients = new Set<http.ServerResponse>();
  private readonly lastSent = new Map<string, ServiceRecord>();
  private sampler?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly source: DashboardSource,
    private readonly opts: EventHubOptions,
  ) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Turns `res` into an event stream and sends it every record. */
  add(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      // nginx buffers proxied responses unless told otherwise; events must flow at once.
      'X-Accel-Buffering': 'no',
    });
    req.socket.setNoDelay(true);
    // Existing pages first catch up to now, so the new page and they share one baseline.
    this.sample();
    const now = Date.now();
    const services = serviceRecords(this.source, now);
    this.remember(services);
    res.write(`retry: 1000\n${event('snapshot', { now, dir: this.source.dir, actions: this.opts.actions, services })}`);
    this.clients.add(res);
    res.on('close', () => this.drop(res));
    this.sampler ??= setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
    this.heartbeat ??= setInterval(() => this.broadcast(': heartbeat\n\n'), HEARTBEAT_MS);
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopTimers();
  }

  private sample(): void {
    if (this.clients.size === 0) return;
    const now = Date.now();
    const services = serviceRecords(this.source, now);
    const upsert = services.filter((record) => !sameButUptime(this.lastSent.get(record.name), record));
    const present = new Set(services.map((record) => record.name));
    const remove = [...this.lastSent.keys()].filter((name) => !present.has(name));
    this.remember(services);
    if (upsert.length === 0 && remove.length === 0) return;
    this.broadcast(event('change', { now, upsert, remove }));
  }

  private remember(services: ServiceRecord[]): void {
    this.lastSent.clear();
    for (const record of services) this.lastSent.set(record.name, record);
  }

  private broadcast(text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        this.drop(res);
        continue;
      }
      res.write(text);
    }
  }

  private drop(res: http.ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stopTimers();
  }

  private stopTimers(): void {
    clearInterval(this.sampler);
    clearInterval(this.heartbeat);
    this.sampler = undefined;
    this.heartbeat = undefined;
  }
}

/**
 * Field by field, one level deep (lastExit), without serializing: this runs for every
 * service four times a second while a page is open, and strings made only to be compared
 * would be most of what the dashboard allocates.
 */
function sameButUptime(previous: ServiceRecord | undefined, next: ServiceRecord): boolean {
  if (previous === undefined) return false;
  return shallowEqual(previous as unknown as Record<string, unknown>, next as unknown as Record<string, unknown>, 'uptime', 1);
}

function shallowEqual(a: Record<string, unknown>, b: Record<string, unknown>, skip: string | undefined, depth: number): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (key === skip) continue;
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    const bothObjects = typeof x === 'object' && typeof y === 'object' && x !== null && y !== null;
    if (!bothObjects || depth === 0 || !shallowEqual(x as Record<string, unknown>, y as Record<string, unknown>, undefined, depth - 1)) return false;
  }
  return true;
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
