// 1,000 devices on one node: they sync with a bounded number of API calls (no per-device list
// or read at start, one status object each, one merge-patch per device per report cycle however
// many readings arrive), and every object written validates against the CRDs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer, loadCrds } from './k8s/index.js';
import { clusterStatus, device, deviceModel, startSync, twinOf, waitFor, type SyncHarness } from './k8s/fixtures.js';

const N = 1000;
let server: FakeApiServer;
let h: SyncHarness;

beforeAll(async () => {
  server = await FakeApiServer.start();
  server.apply('devicemodels', deviceModel('thermo'));
  for (let i = 0; i < N; i++) server.apply('devices', device(`d${i}`));
  // Devices of other nodes are listed too (no field selector on spec.nodeName for CRDs) but ignored.
  for (let i = 0; i < 50; i++) server.apply('devices', device(`elsewhere${i}`, { node: 'edge-2' }));
});

afterAll(async () => {
  await h?.destroy();
  await server.stop();
});

describe('cloud sync at 1,000 devices', () => {
  // Generous timeouts: 1,000 devices on a loaded 2-core machine (CI) can take a while; nothing
  // here is timed, only counted.
  it('binds every device and creates each DeviceStatus with ~1 call per device', { timeout: 240_000 }, async () => {
    const t0 = Date.now();
    h = await startSync(server, { pageSize: 500, concurrency: 16 });
    await waitFor(() => h.sync.health().devices === N, '1,000 devices bound', 200_000);
    await waitFor(() => server.store.list('devicestatuses').length === N, '1,000 DeviceStatus objects', 200_000);
    await waitFor(() => h.sync.health().writer.pending === 0, 'nothing pending', 200_000);
    const lists = server.count({ verb: 'list' });
    const watches = server.count({ verb: 'watch' });
    const creates = server.count({ verb: 'create', plural: 'devicestatuses' });
    expect(lists).toBe(1 + 3 + 1); // devicemodels, devices in 3 pages (1,050 objects / 500), devicestatuses
    expect(watches).toBe(3);
    expect(creates).toBe(N);
    expect(server.requests.length).toBe(lists + watches + creates);
    expect(h.sync.health().state).toBe('synced');
    console.log(`1,000 devices bound and their DeviceStatus created in ${Date.now() - t0} ms, ${server.requests.length} API calls`);
  });

  it('a burst of readings on every device costs at most one merge-patch per device per report cycle', { timeout: 240_000 }, async () => {
    const before = server.requests.length;
    const t0 = Date.now();
    // 5 readings per device, all within one report cycle.
    for (let r = 1; r <= 5; r++) {
      await Promise.all(Array.from({ length: N }, (_, i) => h.twin.update(`default/d${i}`, { temperature: { actual: `${20 + r}` } }, { origin: 'edge' })));
    }
    await waitFor(() => Array.from({ length: N }, (_, i) => i).every((i) => twinOf(clusterStatus(server, `d${i}`), 'temperature')?.reported?.value === '25'), 'every latest reading in the cluster', 200_000);
    const calls = server.requests.slice(before);
    const patches = calls.filter((r) => r.verb === 'patch');
    expect(calls.every((r) => r.verb === 'patch' && r.status === 200)).toBe(true);
    // The first reading of a device goes out after the batching window; the rest wait for its cycle.
    expect(patches.length).toBeLessThanOrEqual(2 * N);
    const perDevice = new Map<string, number>();
    for (const p of patches) perDevice.set(p.name!, (perDevice.get(p.name!) ?? 0) + 1);
    expect(Math.max(...perDevice.values())).toBeLessThanOrEqual(2);
    console.log(`5,000 readings on 1,000 devices: ${patches.length} merge-patches, ${calls.reduce((a, r) => a + r.bytesIn, 0)} request bytes, ${Date.now() - t0} ms`);
  });

  it('every object in the cluster validates against the CRDs\' openAPIV3Schema', () => {
    const crds = new Map(loadCrds('devicestatus').map((c) => [c.plural, c]));
    for (const plural of ['devicestatuses', 'devices', 'devicemodels']) {
      for (const o of server.store.list(plural)) expect(crds.get(plural)!.validate(o)).toEqual([]);
    }
    expect(server.requests.filter((r) => r.status === 422)).toEqual([]);
  });
});

describe('client-side rate limit', () => {
  it('spaces API calls at qps after a burst', async () => {
    const { systemClock } = await import('../cloudsync/index.js');
    const s = await FakeApiServer.start();
    let hh: SyncHarness | undefined;
    try {
      s.apply('devicemodels', deviceModel('thermo'));
      for (let i = 0; i < 30; i++) s.apply('devices', device(`r${i}`));
      // 3 lists + 3 watches + 30 creates = 36 calls: 6 in the burst, 30 more at 60 per second.
      hh = await startSync(s, { clock: systemClock, qps: 60, burst: 6, concurrency: 8 });
      await waitFor(() => s.store.list('devicestatuses').length === 30, '30 DeviceStatus objects', 20_000);
      const times = s.requests.map((r) => r.at);
      const span = Math.max(...times) - Math.min(...times);
      expect(s.requests.length).toBe(36);
      // At most qps after the burst (a slower machine only spreads them more, so no upper bound:
      // the 20 s wait above already fails a limiter stuck far below its rate).
      expect(span).toBeGreaterThanOrEqual(((36 - 6) / 60) * 1000 - 50);
    } finally {
      await hh?.destroy();
      await s.stop();
    }
  });
});
