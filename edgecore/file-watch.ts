// Watches the model and manifest paths of the config and calls back once per burst of changes,
// so `edgetwin run` reloads them live (EdgeCore.reload(), the same as SIGHUP).
//
// Files are watched through their parent folder, not their inode: editors save by writing a
// new file and renaming it over the old one (vim, VS Code, `kubectl`-style tools), which ends
// an inode watch after the first save (https://nodejs.org/api/fs.html#inodes). A path that does
// not exist yet is watched through its nearest existing ancestor, so a manifest folder created
// after start is picked up too.

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

/** What to watch for one configured path: a folder and a filter for its events. */
interface Target {
  readonly dir: string;
  readonly matches: (changed: string) => boolean;
  /** The configured path does not exist yet: the watch moves to it once it appears. */
  readonly missing: boolean;
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

// Folders are read one level deep (schemas/files.ts listSourceFiles), so a plain, non-recursive
// watch per folder sees every change that matters; Node 20's recursive watch on Linux is a
// JavaScript emulation that was seen to miss deletions after a burst of edits.
function targetFor(p: string): Target {
  if (isDir(p)) return { dir: p, matches: (c) => path.dirname(c) === p, missing: false };
  if (existsSync(p)) return { dir: path.dirname(p), matches: (c) => c === p, missing: false };
  // Not there yet, a file or a folder to come: its nearest existing ancestor gets the watch, and
  // the creation of anything on the way to it moves the watch down.
  return { dir: nearestExisting(p), matches: (c) => within(c, p) || within(p, c), missing: true };
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
  let watchers: FSWatcher[] = [];
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let retargetTimer: NodeJS.Timeout | undefined;
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
  // A folder that appeared (or a watched one that went away): rebuild every watch, soon.
  const retargetSoon = (): void => {
    if (closed || retargetTimer) return;
    retargetTimer = setTimeout(() => {
      retargetTimer = undefined;
      if (!closed) start();
    }, 50);
    retargetTimer.unref();
  };

  const start = (): void => {
    for (const w of watchers) w.close();
    watchers = [];
    // One watcher per folder (several configured files often share one).
    const byDir = new Map<string, Target[]>();
    for (const p of new Set(opts.paths)) {
      const t = targetFor(p);
      byDir.set(t.dir, [...(byDir.get(t.dir) ?? []), t]);
    }
    for (const [dir, targets] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (closed) return;
          if (name === null) {
            // The kernel dropped events (inotify overflow): reload to be safe, and re-watch.
            noted(dir);
            retargetSoon();
            return;
          }
          const file = path.join(dir, name.toString());
          const hit = targets.filter((t) => t.matches(file));
          if (hit.length === 0) return;
          if (hit.some((t) => t.missing)) retargetSoon();
          if (relevant(file) || isDir(file) || hit.some((t) => t.missing)) noted(file);
        });
        // A watched folder that is removed or unreadable ends its watcher: say so, watch what is left.
        w.on('error', (err: unknown) => {
          log.warn({ err, dir }, 'file watch stopped for this folder; SIGHUP still reloads');
          noted(dir);
          retargetSoon();
        });
        watchers.push(w);
      } catch (err) {
        log.warn({ err, dir }, 'cannot watch this folder for changes; SIGHUP still reloads');
      }
    }
    log.debug({ folders: watchers.length }, 'watching models and manifests for changes');
  };
  start();

  return {
    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      if (retargetTimer) clearTimeout(retargetTimer);
      for (const w of watchers) w.close();
    },
  };
}

/**
 * Watches the config's model and manifest paths (the bundled models never change) and calls
 * `reload` once per burst; `reload` returns undefined when edgetwin is not ready to reload.
 */
export function watchModelsAndManifests(config: { readonly models: readonly string[]; readonly devices: readonly string[] }, logger: Logger, reload: () => Promise<unknown> | undefined): FileWatch {
  return watchFiles({
    paths: [...config.models, ...config.devices],
    logger,
    onChange: (files) => {
      // reload() logs what it loaded and each file it skipped.
      const running = reload();
      if (!running) return;
      logger.info({ files }, 'models or manifests changed: reloading');
      running.catch((err: unknown) => logger.error({ err }, 'reload failed'));
    },
  });
}
