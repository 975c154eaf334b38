// immortaldir's services: one Supervisor per *.yml, all in this process. Each entry moves
// toward what its file says (desired) one step at a time through its own queue, so a slow
// stop of one service (stop_timeout) never holds up the others.

import type { Config } from '../config/config';
import { openServiceRuntime, type ServiceRuntime } from '../supervise/runtime';
import type { ServiceControl } from '../supervise/service';
import type { FinishReason } from '../supervise/supervisor';
import type { ListedService } from '../dashboard/source';
import { requireErrors, stopWaves, type RequireGraph } from './require-graph';
import type { ServiceFile } from './scan';
import type { ReadRequest, ReadResult } from './config-reader';

interface Desired {
  file: ServiceFile;
  config?: Config;
  /** Why this file cannot run: bad YAML, unknown require… (logged once per content). */
  error?: string;
  /** The reader itself failed (config-reader.ts): the error is not the file's, read it again. */
  unread?: boolean;
}

interface Entry {
  name: string;
  desired?: Desired;
  runtime?: ServiceRuntime;
  /** Hash of the file the running runtime was made from. */
  runningHash?: string;
  /** Last error logged, so an unchanged bad file is not logged on every scan. */
  loggedError?: string;
  /** The running config's log file (for the dashboard and `immortalctl logs`). */
  logFile?: string;
  queue: Promise<void>;
}

export interface ServiceTableOptions {
  log: (service: string, line: string) => void;
  /**
   * Reads and checks run.yml files (config-reader.ts); `failed`: the reader itself did not
   * work. `cancel` aborts at shutdown; the promise still settles.
   */
  read: (files: ReadRequest[], cancel: AbortSignal) => Promise<{ results: Map<string, ReadResult>; failed: boolean }>;
}

type StopHow = 'halt' | 'abandon' | 'shutdown';

export class ServiceTable {
  private readonly entries = new Map<string, Entry>();
  private closing = false;
  /** The latest scan's files, not yet reconciled. */
  private pendingFiles?: Map<string, ServiceFile>;
  /** Set while a reconcile runs: scans arriving meanwhile wait and only the latest counts. */
  private reconciling?: Promise<void>;
  /** Aborts a read in progress when shutdown begins. */
  private readonly stopReading = new AbortController();

  constructor(private readonly opts: ServiceTableOptions) {}

  /**
   * Brings every service in line with the files found by a scan; resolves once done. Reading
   * the files is asynchronous (another process): scans in the meantime are coalesced.
   */
  reconcile(files: Map<string, ServiceFile>): Promise<void> {
    this.pendingFiles = files;
    this.reconciling ??= this.reconcilePending().finally(() => { this.reconciling = undefined; });
    return this.reconciling;
  }

  /** Whether a file could not be read because the reader failed: an unchanged directory must be read again. */
  rereadWanted(): boolean {
    return [...this.entries.values()].some((entry) => entry.desired?.unread);
  }

  private async reconcilePending(): Promise<void> {
    for (let files = this.pendingFiles; files !== undefined && !this.closing; files = this.pendingFiles) {
      this.pendingFiles = undefined;
      await this.apply(files);
    }
  }

  private async apply(files: Map<string, ServiceFile>): Promise<void> {
    const desired = await this.loadDesired(files);
    if (this.closing) return;
    for (const name of new Set([...this.entries.keys(), ...desired.keys()])) {
      const entry = this.entryFor(name);
      const next = desired.get(name);
      const changed = next?.file.hash !== entry.desired?.file.hash || next?.error !== entry.desired?.error;
      entry.desired = next;
      if (changed || this.wantsStart(entry)) this.enqueue(entry, () => this.converge(entry));
    }
  }

  /** Nothing in the directory changed: a service that should run and does not is tried again. */
  retryUnstarted(): void {
    if (this.closing) return;
    for (const entry of this.entries.values()) if (this.wantsStart(entry)) this.enqueue(entry, () => this.converge(entry));
  }

  /** `require:` inside the directory: the names whose service is not running yet. */
  missingRequired = async (names: string[]): Promise<string[]> =>
    names.filter((name) => {
      // Ready, not only started (docs/readiness.md): without `ready:` the two are the same.
      const snapshot = this.entries.get(name)?.runtime?.supervisor.snapshot();
      return !snapshot?.running || snapshot.ready === false;
    });

  /** Stops every service, dependents before what they require; resolves when all are gone. */
  async shutdown(): Promise<void> {
    this.closing = true;
    // A read in progress is killed and waited for: its process must not outlive us.
    this.stopReading.abort();
    await this.reconciling?.catch(() => undefined);
    const graph: RequireGraph = new Map();
    for (const entry of this.entries.values()) {
      graph.set(entry.name, (entry.desired?.config?.require ?? []).filter((r) => this.entries.has(r)));
      entry.desired = undefined;
    }
    for (const wave of stopWaves(graph)) {
      await Promise.all(wave.map((name) => {
        const entry = this.entries.get(name)!;
        return this.enqueue(entry, () => this.stopRuntime(entry, 'shutdown'));
      }));
    }
  }

  private wantsStart(entry: Entry): boolean {
    return entry.desired !== undefined && !entry.desired.error && !entry.runtime;
  }

  /** Names and runtimes, for listing and metrics. */
  runtimes(): Array<{ name: string; runtime: ServiceRuntime }> {
    return [...this.entries.values()]
      .filter((e) => e.runtime)
      .map((e) => ({ name: e.name, runtime: e.runtime! }));
  }

  /** Every name of the directory, with its supervisor when one runs (dashboard). */
  listing(): ListedService[] {
    return [...this.entries.values()].map((e) => ({
      name: e.name,
      service: e.runtime?.supervisor,
      error: e.desired?.error ?? e.loggedError,
      logFile: e.runtime ? e.logFile : undefined,
      stopping: e.desired === undefined,
    }));
  }

  /** The running supervisor of one service, to act on it (dashboard). */
  control(name: string): ServiceControl | undefined {
    return this.entries.get(name)?.runtime?.supervisor;
  }

  // ── one entry ─────────────────────────────────────────────────────────────────────────

  private async converge(entry: Entry): Promise<void> {
    const desired = entry.desired;
    // A changed file that no longer loads leaves the running service alone, like a failed
    // `nginx -t`: the error is logged and the old config keeps serving.
    if (entry.runtime && (!desired || (!desired.error && desired.file.hash !== entry.runningHash))) {
      // A removed service whose pid we only follow keeps running: it was never ours to stop.
      const following = entry.runtime.supervisor.snapshot().fpid;
      await this.stopRuntime(entry, !desired && following ? 'abandon' : 'halt');
    }
    if (!desired) {
      if (!entry.runtime) this.entries.delete(entry.name);
      return;
    }
    if (desired.error) return this.logErrorOnce(entry, desired.error);
    if (entry.runtime || this.closing) return;
    await this.startRuntime(entry, desired);
  }

  private async startRuntime(entry: Entry, desired: Desired): Promise<void> {
    const log = (line: string) => this.opts.log(entry.name, line);
    let runtime: ServiceRuntime;
    try {
      runtime = await openServiceRuntime(desired.config!, {
        log,
        allowExit: process.env.IMMORTAL_EXIT !== undefined,
        exitWhenRetriesUsed: false,
        failFirstStart: false,
        requireCheck: this.missingRequired,
        soleService: false,
      });
    } catch (err) {
      // A held lock or an unopenable log: try again on the next scan.
      entry.desired = undefined;
      return this.logErrorOnce(entry, (err as Error).message);
    }
    entry.loggedError = undefined;
    entry.runtime = runtime;
    entry.runningHash = desired.file.hash;
    entry.logFile = desired.config!.log?.file;
    // Ready: what requires it starts now, not at its next 1 s check (docs/readiness.md).
    runtime.supervisor.whenReady = () => {
      for (const other of this.entries.values()) {
        if (other.desired?.config?.require.includes(entry.name)) other.runtime?.supervisor.recheckHeldStart();
      }
    };
    runtime.supervisor.begin();
    void runtime.supervisor.finished.then((reason) => this.onFinished(entry, runtime, reason));
  }

  /** The supervisor ended by itself (halt or exit over its socket): start it again. */
  private onFinished(entry: Entry, runtime: ServiceRuntime, reason: FinishReason): void {
    if (entry.runtime !== runtime) return; // we stopped it ourselves
    entry.runtime = undefined;
    this.opts.log(entry.name, `supervisor finished (${reason}); starting it again`);
    this.enqueue(entry, async () => {
      await runtime.close();
      await this.converge(entry);
    });
  }

  private async stopRuntime(entry: Entry, how: StopHow): Promise<void> {
    const runtime = entry.runtime;
    if (!runtime) return;
    entry.runtime = undefined;
    entry.runningHash = undefined;
    if (how === 'abandon') runtime.supervisor.abandon();
    else if (how === 'halt') runtime.supervisor.halt();
    else runtime.supervisor.shutdown();
    await runtime.supervisor.finished;
    await runtime.close();
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────

  private async loadDesired(files: Map<string, ServiceFile>): Promise<Map<string, Desired>> {
    const desired = new Map<string, Desired>();
    const toRead: ServiceFile[] = [];
    for (const [name, file] of files) {
      const known = this.entries.get(name)?.desired;
      // Unchanged content: keep the parsed config (and its error) instead of re-reading.
      if (known && known.file.hash === file.hash && known.error?.startsWith('require:') !== true && !known.unread) {
        desired.set(name, known);
        continue;
      }
      toRead.push(file);
    }
    if (toRead.length > 0) {
      const { results, failed } = await this.opts.read(toRead, this.stopReading.signal);
      for (const file of toRead) desired.set(file.name, { file, ...results.get(file.name)!, unread: failed || undefined });
    }
    const graph: RequireGraph = new Map();
    // A file that does not load is still a known name: its old service may be running, and
    // otherwise its dependents just wait for it (its own require: is unknown, so none).
    for (const [name, d] of desired) graph.set(name, d.config?.require ?? []);
    for (const [name, error] of requireErrors(graph)) desired.set(name, { ...desired.get(name)!, error });
    return desired;
  }

  private logErrorOnce(entry: Entry, error: string): void {
    if (entry.loggedError === error) return;
    entry.loggedError = error;
    this.opts.log(entry.name, `not started: ${error}`);
  }

  private entryFor(name: string): Entry {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = { name, queue: Promise.resolve() };
      this.entries.set(name, entry);
    }
    return entry;
  }

  private enqueue(entry: Entry, step: () => Promise<void>): Promise<void> {
    entry.queue = entry.queue.then(step).catch((err: Error) => this.opts.log(entry.name, `error: ${err.message}`));
    return entry.queue;
  }
}
