// Cloud sync when the cluster misbehaves: the API server goes away under a stream of readings
// (and edgetwin restarts meanwhile), watch history is compacted (410), writes conflict (409).
// Time is scaled 20× (test/k8s/fixtures.ts fastClock): the 1 s → 30 s backoff and the report
// cycle run for real, faster, and no test sleeps a fixed time.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../cloudsync/index.js';
import { FakeApiServer } from './k8s/index.js';
import { clusterStatus, device, deviceModel, startSync, twinOf, waitFor, type SyncHarness, type TwinEntry } from './k8s/fixtures.js';

let server: FakeApiServer;
let h: SyncHarness | undefined;

beforeEach(async () => {
  server = await FakeApiServer.start();
  server.apply('devicemodels', deviceModel('thermo'));
});

afterEach(async () => {
  await h?.destroy();
  h = undefined;
  await server.stop();
});

/** Fails the test if any status write in the cluster moves a reported value back in time. */
function watchForRegressions(): string[] {
  const seen = new Map<string, number>();
  const regressions: string[] = [];
  server.store.onEvent((e) => {
    if (e.plural !== 'devicestatuses') return;
    for (const t of ((e.object.status as { twins?: TwinEntry[] } | undefined)?.twins ?? [])) {
      const key = `${e.object.metadata.name}/${t.propertyName}`;
      const ts = Number(t.reported?.metadata?.timestamp ?? -1);
      if (ts < (seen.get(key) ?? -1)) regressions.push(`${key}: ${ts} after ${seen.get(key)}`);
      seen.set(key, Math.max(ts, seen.get(key) ?? -1));
    }
  });
  return regressions;
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `d${i}`);

describe('cloud sync offline', () => {
  it('the API server goes away under a stream of readings: every latest value lands, nothing older overwrites it', async () => {
    for (const n of names(5)) server.apply('devices', device(n));
    const regressions = watchForRegressions();
    h = await startSync(server);
    const twin = h.twin;
    await waitFor(() => names(5).every((n) => clusterStatus(server, n)) && h!.sync.health().writer.pending === 0, 'initial statuses');

    await server.down();
    const latest = new Map<string, string>();
    for (let i = 1; i <= 300; i++) {
      const n = `d${i % 5}`;
      const value = (20 + (i % 97) / 10).toFixed(1);
      await twin.update(`default/${n}`, { temperature: { actual: value }, setpoint: { actual: String(5 + (i % 30)) } }, { origin: 'edge' });
      latest.set(`${n}/temperature`, value);
      latest.set(`${n}/setpoint`, String(5 + (i % 30)));
    }
    await waitFor(() => h!.sync.health().writer.state === 'offline', 'the writer offline');
    expect(h.sync.health().state).toBe('degraded');
    expect(h.sync.health().writer.pending).toBe(5);

    const before = server.requests.length;
    await server.up();
    await waitFor(
      () => [...latest].every(([key, value]) => {
        const [n, p] = key.split('/') as [string, string];
        return twinOf(clusterStatus(server, n), p)?.reported?.value === value;
      }),
      'every latest value in the cluster',
    );
    await waitFor(() => h!.sync.health().state === 'synced', 'health back to synced');
    expect(regressions).toEqual([]);
    // Latest value per property wins: one write per device drains 300 readings.
    const patches = server.requests.slice(before).filter((r) => r.verb === 'patch' && r.status === 200);
    expect(patches.length).toBeLessThanOrEqual(10);
  });

  it('a restart during the outage keeps the outbox; on reconnect it drains oldest device first', async () => {
    for (const n of names(3)) server.apply('devices', device(n));
    h = await startSync(server, { concurrency: 1 });
    // Every first write acknowledged too (a create whose answer is cut by down() stays pending, and
    // would rightly be the oldest work after the restart).
    await waitFor(() => names(3).every((n) => clusterStatus(server, n)) && h!.sync.health().writer.pending === 0, 'initial statuses');
    await server.down();
    for (const [n, v] of [['d2', '21.5'], ['d0', '22.5'], ['d1', '23.5'], ['d2', '24.5']] as const) {
      await h.twin.update(`default/${n}`, { temperature: { actual: v } }, { origin: 'edge' });
    }
    const dir = h.dir;
    await h.stop();

    // Restart while the API server is still down: the devices are bound from the cached Devices.
    h = await startSync(server, { dir, concurrency: 1 });
    expect(h.twin.get('default/d1')?.twins.temperature?.actual?.value).toBe('23.5');
    expect(h.sync.health().devices).toBe(3);
    expect(h.sync.health().writer.pending).toBe(3);
    const before = server.requests.length;
    await server.up();
    await waitFor(() => twinOf(clusterStatus(server, 'd1'), 'temperature')?.reported?.value === '23.5', 'd1 drained');
    await waitFor(() => twinOf(clusterStatus(server, 'd2'), 'temperature')?.reported?.value === '24.5', 'd2 drained');
    expect(twinOf(clusterStatus(server, 'd0'), 'temperature')?.reported?.value).toBe('22.5');
    const after = server.requests.slice(before);
    const order = after.filter((r) => r.verb === 'patch' && r.plural === 'devicestatuses').map((r) => r.name);
    expect(order.slice(0, 3), JSON.stringify(after.map((r) => `${r.verb} ${r.plural}/${r.name ?? ''} ${r.status}`))).toEqual(['d2', 'd0', 'd1']);
  });

  it('watch compaction (410 Gone) relists and loses nothing that changed meanwhile', async () => {
    server.apply('devices', device('a'));
    h = await startSync(server);
    await waitFor(() => h!.twin.get('default/a'), 'a bound');
    await waitFor(() => server.openWatches === 3, 'three watches');

    // An open watch ended with 410 (the watch cache moved on): relist.
    server.expireWatches();
    await waitFor(() => h!.sync.health().watches.devices?.expired === 1 && h!.sync.health().watches.devices?.state === 'watching', 'relisted');

    // A watch broken while the history is compacted: resuming from its resourceVersion gets 410.
    server.fail((r) => r.verb === 'watch', 503, 3);
    server.closeWatches();
    server.apply('devices', device('b'));
    server.apply('devices', device('a', { desired: { setpoint: '18' } }));
    server.store.compact();
    await waitFor(() => h!.twin.get('default/b'), 'b bound after the relist');
    await waitFor(() => h!.twin.get('default/a')?.twins.setpoint?.expected?.value === '18', 'the change made during the gap');
    const w = h.sync.health().watches.devices!;
    expect(w.expired).toBeGreaterThanOrEqual(2);
    expect(w.failures).toBeGreaterThanOrEqual(1);
  });

  it('409 on a status write re-reads, and never reverts a newer reported value written by someone else', async () => {
    server.apply('devices', device('a'));
    h = await startSync(server);
    await waitFor(() => h!.twin.get('default/a'), 'a bound');
    await h.twin.update('default/a', { temperature: { actual: '20' }, setpoint: { actual: '10' } }, { origin: 'edge' });
    await waitFor(() => twinOf(clusterStatus(server, 'a'), 'temperature')?.reported?.value === '20', 'first status');

    // Another writer puts a newer temperature in the cluster.
    const ds = server.store.get('devicestatuses', 'default', 'a');
    const future = String(Date.now() + 3_600_000);
    const twins = ((ds.status as { twins: TwinEntry[] }).twins).map((t) => (t.propertyName === 'temperature' ? { ...t, reported: { value: '99', metadata: { timestamp: future, type: 'float' } } } : t));
    server.store.patch('devicestatuses', 'default', 'a', { status: { twins } }, undefined);
    // And our next write conflicts (as it would had the watch not yet delivered that change).
    server.fail((r) => r.verb === 'patch' && r.plural === 'devicestatuses', 409, 1);

    await h.twin.update('default/a', { temperature: { actual: '21' }, setpoint: { actual: '11' } }, { origin: 'edge' });
    await waitFor(() => twinOf(clusterStatus(server, 'a'), 'setpoint')?.reported?.value === '11', 'our write landed');
    expect(twinOf(clusterStatus(server, 'a'), 'temperature')?.reported).toEqual({ value: '99', metadata: { timestamp: future, type: 'float' } });
    const calls = server.requests.filter((r) => r.plural === 'devicestatuses' && r.verb !== 'list' && r.verb !== 'watch').map((r) => `${r.verb} ${r.status}`);
    expect(calls).toContain('patch 409');
    expect(calls.slice(calls.indexOf('patch 409'))).toEqual(['patch 409', 'get 200', 'patch 200']);
  });

  it('reconnects with exponential backoff and jitter, 1 s → 30 s, on the injected clock', async () => {
    await server.down();
    const delays: number[] = [];
    const clock: Clock = { now: () => Date.now(), delay: (ms, signal) => { delays.push(ms); return systemClock.delay(ms / 1000, signal); } };
    h = await startSync(server, { clock });
    await waitFor(() => (h!.sync.health().watches.devicemodels?.failures ?? 0) >= 8, 'eight failed attempts');
    const h1 = h.sync.health();
    expect(h1.state).toBe('starting');
    expect(h1.watches.devicemodels).toMatchObject({ state: 'retrying', lastError: { code: 'EDGETWIN_ERR_CLOUD_UNREACHABLE' } });
    // Each reflector: 1 s, 2 s, 4 s … capped at 30 s, each within ±20 % (the state poll's 1 s
    // cycle and the idle writer's 60 s nap use the same clock: left out).
    const backoffs = delays.filter((d) => d >= 800 && d !== 1000 && d !== 60_000);
    expect(Math.min(...backoffs)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...backoffs)).toBeLessThanOrEqual(30_000);
    expect(backoffs.some((d) => d >= 24_000)).toBe(true);
    await server.up();
    await waitFor(() => h!.sync.health().state === 'synced', 'synced after the server came back', 15_000);
  });
});
