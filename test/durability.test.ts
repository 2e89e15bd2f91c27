// Twins, device state and membership survive a restart. (Every PUBACKed QoS 1 update surviving
// repeated `kill -9` of a real `edgetwin run` process is test/crash.test.ts.)

import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEdge, tempDir, thermostatManifest, TestClient, writeManifests } from './helpers.js';

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
    // The state result carries a fresh event id (KubeEdge's BuildBaseMessage), not the request's.
    await c1.next(`${DEV}/state/update/result`, (j) => (j.device as { state?: string } | undefined)?.state === 'online');
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
