// A fresh Node process for the memory (c) and restart (d) benchmarks, run by runBenchChild.
// Prints one JSON line. Modes:
//   prepare <dir> <devices>  manifests (power-meter, 5 properties) and a store whose every twin
//                            holds a reported value (and the relay a desired one)
//   measure <dir> [idleMs]   start an EdgeCore on it, idle, collect garbage, report memory
//   phases <dir>             the start-up steps of EdgeCore.start, each timed

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceTwin, SqliteTwinStore } from '../devicetwin/index.js';
import { EdgeCore, manifestFingerprint, readManifestCache, silentLogger, VERSION } from '../edgecore/index.js';
import { EmbeddedBroker } from '../eventbus/index.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels, resolveConfig, type EdgetwinConfig } from '../schemas/index.js';
import { BENCH_LIMITS, POWER_METER, writeDeviceManifests } from './lib.js';

const [mode = '', dir = '', count = '0'] = process.argv.slice(2);
/** `measure`'s idle time before and after collecting (its third argument). */
const idleMs = mode === 'measure' ? Number(count) || 1000 : 0;

function config(): EdgetwinConfig {
  return resolveConfig({
    dataDir: path.join(dir, 'data'),
    devices: [path.join(dir, 'devices')],
    mqtt: { port: 0, limits: BENCH_LIMITS },
    metrics: { port: 0 },
    mappers: { enabled: [] },
    log: { level: 'silent' },
  });
}

async function prepare(devices: number): Promise<object> {
  writeDeviceManifests(path.join(dir, 'devices'), devices, POWER_METER);
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const core = new EdgeCore({ config: config(), logger: silentLogger() });
  await core.start();
  const t0 = performance.now();
  // Batches of 1,000 updates: each batch is a few group commits.
  for (let i = 0; i < devices; i += 1000) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(devices, i + 1000); j++) {
      batch.push(
        core.twin.update(
          `default/${POWER_METER.prefix ?? 'bench'}-${j}`,
          { voltage: { actual: '230.1' }, current: { actual: String(j % 100) }, power: { actual: '345' }, energy: { actual: '1234.5' }, relay: { expected: 'true', actual: 'false' } },
          { origin: 'edge' },
        ),
      );
    }
    await Promise.all(batch);
  }
  const fillMs = performance.now() - t0;
  await core.stop();
  return { devices, fillMs };
}

async function measure(): Promise<object> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const core = new EdgeCore({ config: config(), logger: silentLogger() });
  const t0 = performance.now();
  const report = await core.start();
  const startMs = performance.now() - t0;
  // Idle as a running node is: timers and sockets live, nothing arriving. Two full collections
  // (the second frees what the first's finalizers released), then V8 returns freed pages.
  await sleep(idleMs);
  gc?.();
  gc?.();
  await sleep(idleMs);
  const mem = process.memoryUsage();
  const rows = core.twin.list().reduce((n, e) => n + Object.keys(e.state.twins).length, 0);
  await core.stop();
  return { devices: report.devices, twins: rows, startMs, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, externalBytes: mem.external };
}

async function phases(): Promise<object> {
  const c = config();
  const out: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    out[name] = now - t;
    t = now;
  };
  const models = loadModels([BUNDLED_MODELS_DIR]).models;
  lap('modelsMs');
  const { devices } = loadDevices(c.devices, models);
  lap('manifestsMs');
  // What a restart with unchanged manifests does instead (the cache `edgetwin run` wrote).
  const cached = readManifestCache(path.join(c.dataDir, 'manifests.cache.json'), manifestFingerprint(c.devices, models, VERSION));
  lap('manifestCacheMs');
  if (!cached) out.manifestCacheMs = Number.NaN;
  const store = new SqliteTwinStore({ path: path.join(c.dataDir, 'edgetwin.db') });
  const broker = new EmbeddedBroker({ port: 0 });
  const twin = new DeviceTwin({ bus: broker, store, nodeName: c.nodeName, logger: silentLogger(), deviceLimits: { maxDevices: c.mqtt.limits.maxDevices, maxPropertiesPerDevice: c.mqtt.limits.maxPropertiesPerDevice } });
  await twin.start();
  lap('storeLoadMs');
  await broker.start();
  lap('brokerMs');
  await twin.setDevices(devices.map((instance) => ({ instance, model: models.get(instance.model)! })));
  twin.listen();
  lap('bindMs');
  await twin.stop();
  await broker.close();
  await store.close();
  return out;
}

const run = mode === 'prepare' ? prepare(Number(count)) : mode === 'measure' ? measure() : mode === 'phases' ? phases() : Promise.reject(new Error(`unknown mode ${mode}`));
run.then(
  (result) => console.log(JSON.stringify(result)),
  (err: unknown) => {
    console.error(err);
    // An EdgeCore left started would keep the process (and the benchmark waiting on it) alive.
    process.exit(1);
  },
);
