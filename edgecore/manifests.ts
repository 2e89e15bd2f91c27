// Device manifests, parsed in a worker thread when there are many. Parsing YAML allocates
// ~10 KB of short-lived objects per manifest: on the main thread, 100k manifests grew the heap
// past 1 GB, and the twins loaded next kept its pages fragmented (860 MB resident when idle,
// docs/benchmarks.md). In a worker that garbage dies with the worker's heap, only the compact
// result crosses over, and the main thread opens the store and the broker meanwhile (2 cores).

import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { edgetwinError, type EdgetwinError, type ErrorCode, type ErrorDetail } from '../errors.js';
import { loadDevices, type DeviceInstance, type DeviceModel } from '../schemas/index.js';
import { manifestFingerprint, readManifestCache, writeManifestCache } from './manifest-cache.js';

/** Below this many bytes of manifests (~5,000 devices) a worker costs more than it saves. */
export const WORKER_THRESHOLD_BYTES = 1024 * 1024;

export interface LoadedManifests {
  readonly devices: DeviceInstance[];
  readonly errors: EdgetwinError[];
}

export interface ManifestLoad {
  readonly result: Promise<LoadedManifests>;
  /** Stops the worker, if any (a start-up that failed meanwhile). */
  cancel(): Promise<void>;
}

/** What the worker posts: errors as data (structured clone keeps no own properties of an Error). */
export interface WorkerResult {
  readonly devices: DeviceInstance[];
  readonly errors: ReadonlyArray<{ readonly code: ErrorCode; readonly message: string; readonly details: readonly ErrorDetail[] }>;
}

export interface WorkerInput {
  readonly devicePaths: readonly string[];
  readonly modelPaths: readonly string[];
}

const WORKER = new URL('./manifest-worker.js', import.meta.url);
const MANIFEST = /\.(ya?ml|json)$/i;

/** Bytes of manifest files under `paths` (what loadDevices will read); unreadable paths count 0. */
function manifestBytes(paths: readonly string[]): number {
  let total = 0;
  const visit = (p: string, depth: number): void => {
    try {
      const s = statSync(p);
      if (s.isFile()) total += MANIFEST.test(p) ? s.size : 0;
      else if (s.isDirectory() && depth < 8) for (const name of readdirSync(p)) visit(path.join(p, name), depth + 1);
    } catch {
      // loadDevices reports it
    }
  };
  for (const p of paths) visit(p, 0);
  return total;
}

/**
 * loadDevices(devicePaths, models), off the main thread when the manifests are large and this
 * is the compiled build (a worker runs JavaScript files only; tests importing the TypeScript
 * sources load in-thread). A worker that fails falls back to loading in-thread.
 */
export function loadManifests(
  devicePaths: readonly string[],
  modelPaths: readonly string[],
  models: ReadonlyMap<string, DeviceModel>,
  thresholdBytes = WORKER_THRESHOLD_BYTES,
  cache?: { readonly file: string; readonly version: string },
): ManifestLoad {
  if (!cache) return parseManifests(devicePaths, modelPaths, models, thresholdBytes);
  // Keyed before parsing: a file edited meanwhile gets a new key on the next start.
  const fingerprint = manifestFingerprint(devicePaths, models, cache.version);
  const hit = readManifestCache(cache.file, fingerprint);
  if (hit) {
    const loaded = { devices: hit.devices, errors: hit.errors.map((e) => edgetwinError(e.code, e.message, e.details)) };
    return { result: Promise.resolve(loaded), cancel: () => Promise.resolve() };
  }
  const load = parseManifests(devicePaths, modelPaths, models, thresholdBytes);
  return {
    result: load.result.then((loaded) => {
      const errors = loaded.errors.map((e) => ({ code: e.code, message: e.message, details: e.details }));
      writeManifestCache(cache.file, fingerprint, { devices: loaded.devices, errors });
      return loaded;
    }),
    cancel: () => load.cancel(),
  };
}

function parseManifests(
  devicePaths: readonly string[],
  modelPaths: readonly string[],
  models: ReadonlyMap<string, DeviceModel>,
  thresholdBytes: number,
): ManifestLoad {
  const inThread = (): LoadedManifests => loadDevices(devicePaths, models);
  if (!import.meta.url.endsWith('.js') || manifestBytes(devicePaths) < thresholdBytes) {
    return { result: Promise.resolve().then(inThread), cancel: () => Promise.resolve() };
  }
  const worker = new Worker(WORKER, { workerData: { devicePaths, modelPaths } satisfies WorkerInput });
  let cancelled = false;
  let settled = false;
  const result = new Promise<LoadedManifests>((resolve, reject) => {
    worker.once('message', (m: WorkerResult) => {
      settled = true;
      resolve({ devices: m.devices, errors: m.errors.map((e) => edgetwinError(e.code, e.message, e.details)) });
      void worker.terminate();
    });
    // 'error' (then 'exit'), or an exit without a message: load in-thread instead.
    const fallback = (): void => {
      if (settled) return;
      settled = true;
      if (cancelled) reject(edgetwinError('EDGETWIN_ERR_INTERNAL', 'start-up cancelled while manifests loaded'));
      else resolve(inThread());
    };
    worker.once('error', fallback);
    worker.once('exit', fallback);
  });
  return {
    result,
    cancel: async () => {
      cancelled = true;
      await worker.terminate();
      await result.catch(() => undefined);
    },
  };
}
