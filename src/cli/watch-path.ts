// Being told when a path may name another file than before: inotify (fs.watch) where the system
// has it, else a look every so often. For `run`, which must see its PID file removed or replaced,
// and for `wait --held`.
import fs from 'node:fs';
import path from 'node:path';

export interface PathWatch {
  /** Stops watching; calling it again does nothing. */
  close(): void;
  /** Whether a timer stands in for inotify (fs.watch failed, with the code it failed with). */
  readonly fallback: string | null;
}

export interface WatchOptions {
  /** How often to call `onChange` where fs.watch cannot be used, in ms. */
  pollMs: number;
  /** Whether the watch keeps the event loop alive. */
  persistent: boolean;
}

/** Each directory on the way to `file`, nearest first, with the name in it that leads to `file`. */
export function waypoints(file: string): { dir: string; name: string }[] {
  const points: { dir: string; name: string }[] = [];
  for (let at = path.resolve(file); path.dirname(at) !== at; at = path.dirname(at)) {
    points.push({ dir: path.dirname(at), name: path.basename(at) });
  }
  return points;
}

/**
 * Calls `onChange` whenever the name `file` may have come to name another file, or none: the
 * file created, written, removed or renamed, or any directory on the way to it. With inotify
 * there is one watch per directory on the way (those that exist and may be watched), each
 * heeding one name in it, so nothing else that happens there wakes this process, and no timer
 * runs; after each change the watches are set up again (a directory may have been replaced).
 * Where fs.watch fails on the nearest directory (no inotify, its limits reached, EACCES),
 * `onChange` is called every `pollMs` instead.
 */
export function watchPath(file: string, onChange: () => void, { pollMs, persistent }: WatchOptions): PathWatch {
  let watchers: fs.FSWatcher[] = [];
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let fallback: string | null = null;

  const stop = (): void => {
    for (const watcher of watchers) watcher.close();
    watchers = [];
  };
  const poll = (why: string): void => {
    stop();
    fallback ??= why;
    if (timer !== null) return;
    timer = setInterval(onChange, pollMs);
    if (!persistent) timer.unref();
  };
  const arm = (): void => {
    stop();
    for (const { dir, name } of waypoints(file)) {
      let watcher: fs.FSWatcher;
      try {
        watcher = fs.watch(dir, { persistent }, (_event, changed) => {
          // Node gives the name as a string (a Buffer only when asked for); null where the system does not tell.
          if (closed || (changed !== null && String(changed) !== name)) return;
          arm();
          onChange();
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
        // A directory on the way that does not exist (yet): its parent's watch sees it come.
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        // One further up that cannot be watched (EACCES: searchable, not readable) is left out:
        // the file's own directory is watched, and only a rename up there would go unseen.
        if (watchers.length > 0) continue;
        poll(code);
        return;
      }
      watcher.on('error', (error: NodeJS.ErrnoException) => {
        if (closed) return;
        poll(error.code ?? 'unknown');
        onChange();
      });
      watchers.push(watcher);
    }
  };

  arm();
  return {
    close() {
      closed = true;
      stop();
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
    get fallback() {
      return fallback;
    },
  };
}
