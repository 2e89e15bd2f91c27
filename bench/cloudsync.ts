// Cloud sync cost and latency, against the in-process API server (test/k8s) with the real
// @kubernetes/client-node: API calls and bytes per 1,000 twin changes with per-device batching,
// against a baseline measured in the same run (one merge-patch per change, as KubeEdge's
// cloudcore sends one status patch per edge twin message), and the time from a reading to its
// value in the cluster at steady state.

import * as k8s from '@kubernetes/client-node';
import { systemClock } from '../cloudsync/index.js';
import { FakeApiServer } from '../test/k8s/index.js';
import { device, deviceModel, startSync, waitFor, type SyncHarness, type TwinEntry } from '../test/k8s/fixtures.js';
import { fmt, median, percentile, printTable } from './lib.js';

export interface CloudSyncBenchOptions {
  readonly devices: number;
  readonly changesPerDevice: number;
  /** Interval between readings of one device in the stream (ms). */
  readonly streamInterval: number;
  readonly latencySamples: number;
}

interface Cost {
  readonly calls: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly ms: number;
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `d${i}`);

async function setup(devices: number): Promise<{ server: FakeApiServer; h: SyncHarness }> {
  const server = await FakeApiServer.start();
  server.apply('devicemodels', deviceModel('thermo'));
  for (const n of names(devices)) server.apply('devices', device(n));
  const h = await startSync(server, { clock: systemClock, qps: 1000, burst: 1000, concurrency: 16 });
  await waitFor(() => h.sync.health().devices === devices && h.sync.health().writer.pending === 0 && server.store.list('devicestatuses').length === devices, 'initial sync', 60_000);
  return { server, h };
}

function reported(server: FakeApiServer, name: string, prop: string): string | undefined {
  try {
    const twins = ((server.store.get('devicestatuses', 'default', name).status as { twins?: TwinEntry[] } | undefined)?.twins ?? []);
    return twins.find((t) => t.propertyName === prop)?.reported?.value;
  } catch {
    return undefined;
  }
}

/** `changesPerDevice` readings per device, each device every `interval` ms, staggered. */
async function batched(opts: CloudSyncBenchOptions, devices: number, perDevice: number): Promise<Cost> {
  const { server, h } = await setup(devices);
  try {
    const before = server.requests.length;
    const bytesBefore = server.bytesOut;
    const t0 = performance.now();
    for (let r = 1; r <= perDevice; r++) {
      await Promise.all(names(devices).map((n) => h.twin.update(`default/${n}`, { temperature: { actual: `${r}` } }, { origin: 'edge' })));
      if (r < perDevice) await systemClock.delay(opts.streamInterval);
    }
    await waitFor(() => names(devices).every((n) => reported(server, n, 'temperature') === `${perDevice}`), 'the last readings', 60_000);
    const ms = performance.now() - t0;
    const calls = server.requests.slice(before);
    return { calls: calls.length, requestBytes: calls.reduce((a, r) => a + r.bytesIn, 0), responseBytes: server.bytesOut - bytesBefore, ms };
  } finally {
    await h.destroy();
    await server.stop();
  }
}

/** Baseline: one merge-patch of the status per change, the way cloudcore patches per twin message. */
async function perChange(devices: number, perDevice: number): Promise<Cost> {
  const server = await FakeApiServer.start();
  try {
    server.apply('devicemodels', deviceModel('thermo'));
    for (const n of names(devices)) {
      server.apply('devices', device(n));
      server.apply('devicestatuses', { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceStatus', metadata: { name: n, namespace: 'default' }, spec: {}, status: { twins: [] } });
    }
    const api = server.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const before = server.requests.length;
    const bytesBefore = server.bytesOut;
    const t0 = performance.now();
    for (let r = 1; r <= perDevice; r++) {
      await Promise.all(
        names(devices).map((n) =>
          api.patchNamespacedCustomObject(
            {
              group: 'devices.kubeedge.io',
              version: 'v1beta1',
              namespace: 'default',
              plural: 'devicestatuses',
              name: n,
              body: { status: { twins: [{ propertyName: 'temperature', reported: { value: `${r}`, metadata: { timestamp: String(Date.now()), type: 'float' } } }], state: 'online', lastOnlineTime: '' } },
            },
            merge,
          ),
        ),
      );
    }
    const calls = server.requests.slice(before);
    return { calls: calls.length, requestBytes: calls.reduce((a, r) => a + r.bytesIn, 0), responseBytes: server.bytesOut - bytesBefore, ms: performance.now() - t0 };
  } finally {
    await server.stop();
  }
}

/** Reading → value in the cluster, one device at a time (each idle longer than its report cycle). */
async function latency(samples: number, interval: number): Promise<number[]> {
  const devices = 20;
  const { server, h } = await setup(devices);
  // Start after every device's first write (its DeviceStatus) is a full report cycle old.
  await systemClock.delay(1100);
  const seen = new Map<string, number>();
  server.store.onEvent((e) => {
    if (e.plural !== 'devicestatuses') return;
    for (const t of ((e.object.status as { twins?: TwinEntry[] } | undefined)?.twins ?? [])) {
      const key = `${e.object.metadata.name}=${t.reported?.value ?? ''}`;
      if (!seen.has(key)) seen.set(key, performance.now());
    }
  });
  try {
    const out: number[] = [];
    for (let i = 0; i < samples; i++) {
      const n = `d${i % devices}`;
      const value = `${(i % 100) + 0.5 + Math.floor(i / 100) / 100}`;
      const t0 = performance.now();
      await h.twin.update(`default/${n}`, { temperature: { actual: value } }, { origin: 'edge' });
      await waitFor(() => seen.get(`${n}=${value}`), 'the reading in the cluster', 10_000);
      out.push(seen.get(`${n}=${value}`)! - t0);
      await systemClock.delay(interval);
    }
    return out;
  } finally {
    await h.destroy();
    await server.stop();
  }
}

export async function benchCloudSync(opts: CloudSyncBenchOptions): Promise<void> {
  const total = opts.devices * opts.changesPerDevice;
  const per1000 = (x: number): string => fmt((x / total) * 1000);
  const rows: string[][] = [];
  const show = (label: string, c: Cost): void => {
    rows.push([label, per1000(c.calls), per1000(c.requestBytes), per1000(c.responseBytes), fmt(c.ms)]);
  };
  const batch = await batched(opts, opts.devices, opts.changesPerDevice);
  show(`edgetwin, ${opts.devices} devices × ${opts.changesPerDevice} readings ${opts.streamInterval} ms apart (reportCycle 1 s)`, batch);
  const base = await perChange(opts.devices, opts.changesPerDevice);
  show('baseline: one merge-patch per change (cloudcore-style)', base);
  const wide = await batched(opts, total, 1);
  show(`edgetwin, ${total} devices × 1 reading`, wide);
  printTable(`Cloud sync: API cost per 1,000 twin changes (${total} changes)`, ['scenario', 'API calls', 'request bytes', 'response + watch bytes', 'wall ms'], rows);
  console.log(`\nbatching: ${fmt(base.calls / Math.max(1, batch.calls), 1)}× fewer API calls, ${fmt(base.requestBytes / Math.max(1, batch.requestBytes), 1)}× fewer request bytes than one patch per change`);

  const idle = await latency(opts.latencySamples, 60);
  printTable('Cloud sync: reading → status in the cluster (steady state, device idle longer than its cycle)', ['samples', 'p50 ms', 'p95 ms', 'max ms'], [
    [String(idle.length), fmt(median(idle), 1), fmt(percentile(idle, 95), 1), fmt(Math.max(...idle), 1)],
  ]);
}
