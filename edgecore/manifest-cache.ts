// A cache of parsed and validated Device manifests in the data dir, so a restart does not parse
// the same YAML again: at 100k devices parsing is ~12 s of a restart and everything else ~2 s
// (docs/benchmarks.md). The cache is keyed, like make's, by each manifest file's path, size,
// mtime and inode, plus the loaded models and edgetwin's version: every edit, added or removed
// file, or model change misses and re-parses. A cache that cannot be read or written is only
// a slower start, never an error.

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DeviceModel } from '../schemas/index.js';
import type { WorkerResult } from './manifests.js';

// 2: devices carry load warnings and their model's protocol defaults merged in (schemas/defaults.ts),
//    and stateReport (DMI carries it to mappers).
const FORMAT = 2;
const MANIFEST = /\.(ya?ml|json)$/i;

/** The key of what `loadDevices(paths, models)` would read and check against, right now. */
export function manifestFingerprint(paths: readonly string[], models: ReadonlyMap<string, DeviceModel>, version: string): string {
  const hash = createHash('sha256');
  hash.update(`${FORMAT}\0${version}\0`);
  const visit = (p: string, depth: number): void => {
    try {
      const s = statSync(p);
      if (s.isFile()) {
        if (MANIFEST.test(p) || depth === 0) hash.update(`f\0${path.resolve(p)}\0${s.size}\0${s.mtimeMs}\0${s.ino}\n`);
      } else if (s.isDirectory() && depth < 8) {
        hash.update(`d\0${path.resolve(p)}\n`);
        for (const name of readdirSync(p).sort()) visit(path.join(p, name), depth + 1);
      }
    } catch {
      hash.update(`?\0${p}\n`); // missing now: loadDevices reports it, and the key records it
    }
  };
  for (const p of paths) visit(p, 0);
  for (const [name, model] of [...models].sort(([a], [b]) => a.localeCompare(b))) hash.update(`m\0${name}\0${JSON.stringify(model.schema)}\n`);
  return hash.digest('hex');
}

interface CacheFile extends WorkerResult {
  readonly fingerprint: string;
}

/** The cached result for `fingerprint`, or undefined (no cache, another key, unreadable). */
export function readManifestCache(file: string, fingerprint: string): WorkerResult | undefined {
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheFile>;
    if (cached.fingerprint !== fingerprint || !Array.isArray(cached.devices) || !Array.isArray(cached.errors)) return undefined;
    return { devices: cached.devices, errors: cached.errors };
  } catch {
    return undefined;
  }
}

/** Writes atomically (temp file + rename), so a crash mid-write leaves the old cache or none. */
export function writeManifestCache(file: string, fingerprint: string, result: WorkerResult): boolean {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const body: CacheFile = { fingerprint, devices: result.devices, errors: result.errors };
    writeFileSync(tmp, JSON.stringify(body));
    renameSync(tmp, file);
    return true;
  } catch {
    return false;
  }
}
