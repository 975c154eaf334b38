// What the dashboard reads and acts on: the services of one immortaldir. The records come
// from control/record.ts, the one definition of a service's row.

import { serviceRecord, type ServiceRecord } from '../control/record';
import type { ServiceControl } from '../supervise/service';

export interface ListedService {
  name: string;
  service?: ServiceControl;
  error?: string;
  logFile?: string;
  /** Its file is gone; the supervisor is ending. */
  stopping?: boolean;
}

export interface DashboardSource {
  /** The services directory, shown on the page. */
  readonly dir: string;
  listing(): ListedService[];
  control(name: string): ServiceControl | undefined;
}

/** Every service's record, sorted by name. */
export function serviceRecords(source: DashboardSource, now: number): ServiceRecord[] {
  return source
    .listing()
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((listed) => serviceRecord(listed.name, listed.service?.snapshot(), now, { error: listed.error, logFile: listed.logFile, stopping: listed.stopping, usage: listed.service?.usage() }));
}
