// Watches the model and manifest paths of the config and calls back once per burst of changes,
// so `edgetwin run` reloads them live (EdgeCore.reload(), the same as SIGHUP).
//
// Files are watched through their parent folder, not their inode: editors save by writing a
// new file and renaming it over the old one (vim, VS Code, `kubectl`-style tools), which ends
// an inode watch after the first save. Folders are watched recursively (fs.watch's `recursive`
// works on Linux since Node 20: https://nodejs.org/api/fs.html#fswatchfilename-options-listener).
// A path that does not exist yet is watched through its nearest existing ancestor, so a manifest
// folder created after start is picked up too.

import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

export interface FileWatchOptions {
  /** Files and folders to watch (absolute, as the config resolves them). */
  readonly paths: readonly string[];
  /** Called once per burst of changes, `debounceMs` after the last one. */
  readonly onChange: (changed: readonly string[]) => void;
  readonly logger: Logger;
  /** Quiet time after the last event before `onChange` runs (editors write in several steps). */
  readonly debounceMs?: number;
}

export interface FileWatch {
  close(): void;
}

export const DEFAULT_WATCH_DEBOUNCE_MS = 300;

/** What to watch for one configured path: a folder (recursive) and a filter for its events. */
interface Target {
  readonly dir: string;
  readonly recursive: boolean;
  readonly matches: (changed: string) => boolean;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function nearestExisting(p: string): string {
  let dir = path.dirname(p);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function within(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function targetFor(p: string): Target {
  if (isDir(p)) return { dir: p, recursive: true, matches: () => true };
  if (existsSync(p)) return { dir: path.dirname(p), recursive: false, matches: (c) => c === p };
  // Not there yet: a file or a folder to come. Anything created at or under it counts.
  return { dir: nearestExisting(p), recursive: true, matches: (c) => within(p, c) };
}

/** Only model and manifest files reload (YAML/JSON); an editor's swap or backup file does not. */
function relevant(file: string): boolean {
  const base = path.basename(file);
  if (base.startsWith('.') || base.endsWith('~')) return false;
  return /\.(?:ya?ml|json)$/i.test(base) || !base.includes('.');
}

export function watchFiles(opts: FileWatchOptions): FileWatch {
  const debounceMs = opts.debounceMs ?? DEFAULT_WATCH_DEBOUNCE_MS;
  const log = opts.logger;
  const watchers: FSWatcher[] = [];
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const fire = (): void => {
    timer = undefined;
    if (closed || pending.size === 0) return;
    const changed = [...pending];
    pending.clear();
    opts.onChange(changed);
  };
  const noted = (file: string): void => {
    pending.add(file);
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
    timer.unref();
  };

  // One watcher per folder (several configured files often share one).
  const byDir = new Map<string, Target[]>();
  for (const p of new Set(opts.paths)) {
    const t = targetFor(p);
    const key = `${t.dir}\0${t.recursive}`;
    byDir.set(key, [...(byDir.get(key) ?? []), t]);
  }
  for (const targets of byDir.values()) {
    const { dir, recursive } = targets[0]!;
    try {
      const w = watch(dir, { recursive, persistent: false }, (_event, name) => {
        if (closed || name === null) return;
        const file = path.join(dir, name.toString());
        if (!relevant(file) && !isDir(file)) return;
        if (targets.some((t) => t.matches(file))) noted(file);
      });
      // A watched folder that is removed or unreadable ends its watcher: say so, keep the others.
      w.on('error', (err: unknown) => log.warn({ err, dir }, 'file watch stopped for this folder; SIGHUP still reloads'));
      watchers.push(w);
    } catch (err) {
      log.warn({ err, dir }, 'cannot watch this folder for changes; SIGHUP still reloads');
    }
  }
  log.debug({ folders: watchers.length }, 'watching models and manifests for changes');

  return {
    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
