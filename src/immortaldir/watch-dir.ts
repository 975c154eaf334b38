// Notices changes in the services directory: fs.watch events (debounced) trigger a scan at
// once, and a periodic scan catches whatever events were missed (network filesystems,
// editors that rename over the file, an overflowing inotify queue).

import { watch, type FSWatcher } from 'node:fs';

export interface DirWatcher {
  close(): void;
}

export function watchServiceDir(dir: string, rescan: () => void, opts: { debounceMs: number; intervalMs: number }): DirWatcher {
  let pending: NodeJS.Timeout | undefined;
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      rescan();
    }, opts.debounceMs);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, soon);
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined; // the periodic scan carries on alone
    });
  } catch {
    watcher = undefined;
  }
  const interval = setInterval(rescan, opts.intervalMs);
  return {
    close() {
      watcher?.close();
      clearInterval(interval);
      if (pending) clearTimeout(pending);
    },
  };
}
