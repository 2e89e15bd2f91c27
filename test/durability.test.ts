// Twins, device state and membership survive a restart, and every PUBACKed QoS 1 update
// survives a `kill -9` of a real `edgetwin run` process.

import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEdge, tempDir, thermostatManifest, TestClient, writeManifests } from './helpers.js';
import { BUILT, spawnEdge } from './process.js';

const DEV = '$hw/events/device/default/thermo';

async function getTwin(client: TestClient, id: string): Promise<Record<string, unknown>> {
  const from = client.count;
  await client.publish(`${DEV}/twin/get`, { event_id: id });
  return (await client.next(`${DEV}/twin/get/result`, (j) => j.event_id === id, 5000, from)).json;
}

describe('restart', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('keeps twins, versions, acks, device state and membership', async () => {
    const first = await startEdge({ 'thermo.yaml': thermostatManifest() }, {}, tmp.dir);
    const c1 = await TestClient.connect(first.url);
    await c1.publish(`${DEV}/twin/update`, { event_id: 'u', twin: { setpoint: { expected: { value: '23' }, actual: { value: '22' } }, mode: { actual: { value: 'cool' } } } });
    await c1.next(`${DEV}/twin/update/result`, (j) => j.event_id === 'u');
    await c1.publish(`${DEV}/state/update`, { event_id: 's', state: 'online' });
    await c1.next(`${DEV}/state/update/result`, (j) => j.event_id === 's');
    const before = await getTwin(c1, 'g1');
    await c1.close();
    await first.stop();

    const second = await startEdge({ 'thermo.yaml': thermostatManifest() }, {}, tmp.dir);
    const c2 = await TestClient.connect(second.url);
    try {
      const after = await getTwin(c2, 'g2');
      expect(after.twin).toEqual(before.twin);
      expect(after.version).toBe(before.version);
      expect(second.core.twin.get('default/thermo')?.state).toBe('online');
      // The device was already a member: no membership/updated on the second start.
      expect(c2.on('$hw/events/node/edge-test/membership/updated')).toEqual([]);
    } finally {
      await c2.close();
      await second.stop();
    }
  });

  it('removes a device whose manifest is gone, and announces it', async () => {
    const edge = await startEdge({ 'thermo.yaml': thermostatManifest(), 'other.yaml': thermostatManifest('other') }, {}, tmp.dir);
    const c = await TestClient.connect(edge.url);
    await edge.stop();
    await c.close().catch(() => undefined);
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const again = await startEdge({ 'thermo.yaml': thermostatManifest() }, {}, tmp.dir);
    try {
      expect(again.core.twin.list().map((e) => e.instance.id)).toEqual(['default/thermo']);
    } finally {
      await again.stop();
    }
  });
});

describe.skipIf(!BUILT)('kill -9 of a running edgetwin', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('loses no PUBACKed update and invents none, across repeated kills', async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const args = ['--node-name', 'edge-test', '--data-dir', path.join(tmp.dir, 'data'), '--devices', path.join(tmp.dir, 'devices'), '--mqtt-port', '0', '--log-level', 'warn'];
    let sent = 0;
    let acked = 0;
    for (let round = 0; round < 3; round++) {
      const edge = await spawnEdge(args);
      const client = await TestClient.connect(edge.url, []);
      client.client.on('error', () => undefined);
      if (round > 0) {
        // Everything acknowledged before the kill is there; nothing beyond what was sent.
        const watcher = await TestClient.connect(edge.url, [`${DEV}/twin/get/result`]);
        const got = await getTwin(watcher, `r${round}`);
        const stored = Number((got.twin as { temperature: { actual: { value: string } } }).temperature.actual.value);
        expect(stored).toBeGreaterThanOrEqual(acked / 1000);
        expect(stored).toBeLessThanOrEqual(sent / 1000);
        await watcher.close();
      }
      // Stream QoS 1 updates; kill without warning once a few hundred are acknowledged.
      const target = acked + 200 + Math.floor(Math.random() * 200);
      const inflight: Promise<void>[] = [];
      await new Promise<void>((resolve) => {
        const pump = (): void => {
          while (inflight.length < 50 && sent < target + 400) {
            const value = ++sent;
            const p = client
              .publish(`${DEV}/twin/update`, { event_id: '', twin: { temperature: { actual: { value: String(value / 1000) } } } })
              .then(() => {
                acked = Math.max(acked, value);
                if (acked >= target) resolve();
              }, () => undefined)
              .finally(() => {
                void inflight.splice(inflight.indexOf(p), 1);
                if (acked < target) pump();
              });
            inflight.push(p);
          }
        };
        pump();
      });
      await edge.stop('SIGKILL');
      client.client.end(true);
    }
    expect(acked).toBeGreaterThan(600);
  }, 60_000);
});
