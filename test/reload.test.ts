// Reloading models and manifests while running: SIGHUP to a real `edgetwin run`, and
// EdgeCore.reload() with in-process mappers. Added devices are bound, removed ones leave the node
// (membership/updated), a changed model takes effect, a broken file is skipped and logged while
// the rest load, and the in-process mappers follow the device set.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { EXAMPLES, startEdge, tempDir, TestClient, thermostatManifest, writeManifests, type TestEdge } from './helpers.js';
import { requirePeer } from './peers.js';
import { edgeArgs, spawnEdge } from './process.js';

const dialModel = (maximum: number): string =>
  JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'dial', type: 'object', properties: { level: { type: 'integer', minimum: 0, maximum } }, additionalProperties: false });
const dialManifest = (name: string): string => `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: ${name}, namespace: default }
spec:
  deviceModelRef: { name: dial }
  protocol: { protocolName: external }
  properties: [{ name: level }]
`;

const MEMBERSHIP = '$hw/events/node/edge-test/membership/updated';
const D = '$hw/events/device/default';

/** Sets `level` on a dial and resolves with the answer. */
async function setLevel(client: TestClient, name: string, level: number, eventId: string): Promise<Record<string, unknown>> {
  const from = client.count;
  await client.publish(`${D}/${name}/twin/update`, { event_id: eventId, twin: { level: { expected: { value: String(level) } } } });
  return (await client.next(`${D}/${name}/twin/update/result`, (j) => j.event_id === eventId, 10_000, from)).json;
}

describe.skipIf(!requirePeer('built'))('SIGHUP to edgetwin run', () => {
  const tmp = tempDir('edgetwin-reload-');
  afterAll(() => tmp.cleanup());

  it('reloads models and manifests: devices added and removed, a changed model applied, a broken file skipped', { timeout: 120_000 }, async () => {
    const devices = path.join(tmp.dir, 'devices');
    const models = path.join(tmp.dir, 'models');
    writeManifests(devices, { 'thermo.yaml': thermostatManifest('thermo'), 'gone.yaml': thermostatManifest('gone') });
    writeManifests(models, { 'dial.json': dialModel(10) });
    // --no-watch: this test is about SIGHUP (a file change reloading by itself is test/file-watch.test.ts).
    const edge = await spawnEdge([...edgeArgs(tmp.dir), '--models', models, '--no-metrics', '--no-watch', '--log-level', 'info']);
    const client = await TestClient.connect(edge.url, [MEMBERSHIP, `${D}/+/twin/update/result`, `${D}/+/twin/get/result`]);
    try {
      expect(edge.readyLine).toContain('2 devices');
      // Edit while running: one device removed, two added (one on the dial model), one broken.
      rmSync(path.join(devices, 'gone.yaml'));
      writeFileSync(path.join(devices, 'fresh.yaml'), thermostatManifest('fresh'));
      writeFileSync(path.join(devices, 'dial.yaml'), dialManifest('dial-1'));
      writeFileSync(path.join(devices, 'broken.yaml'), 'apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata: { name: broken }\nspec: {}\n');
      const from = client.count;
      edge.child.kill('SIGHUP');
      const update = (await client.next(MEMBERSHIP, () => true, 20_000, from)).json;
      expect(update).toMatchObject({ added_devices: expect.arrayContaining([expect.objectContaining({ id: 'default/fresh' }), expect.objectContaining({ id: 'default/dial-1' })]), removed_devices: [{ id: 'default/gone', name: 'gone' }] });
      expect(await setLevel(client, 'dial-1', 7, 'dial-7')).toMatchObject({ version: 1 });
      expect(await setLevel(client, 'dial-1', 50, 'dial-50')).toMatchObject({ error_code: 'EDGETWIN_ERR_MODEL_VALIDATION' });
      expect(await setLevel(client, 'gone', 1, 'gone-1')).toMatchObject({ error_code: 'EDGETWIN_ERR_DEVICE_NOT_FOUND' });

      // The model changes (maximum 10 → 100): a second SIGHUP applies it to the bound device.
      writeFileSync(path.join(models, 'dial.json'), dialModel(100));
      const logsBefore = edge.output().stderr.length;
      edge.child.kill('SIGHUP');
      const reloaded = async (): Promise<void> => {
        while (!edge.output().stderr.slice(logsBefore).includes('"models and manifests reloaded"')) await new Promise((r) => edge.child.stderr!.once('data', r));
      };
      await reloaded();
      expect(await setLevel(client, 'dial-1', 50, 'dial-50-again')).toMatchObject({ version: 2 });
      // The state the device had is kept through the reloads.
      const from2 = client.count;
      await client.publish(`${D}/dial-1/twin/get`, { event_id: 'get' });
      expect((await client.next(`${D}/dial-1/twin/get/result`, (j) => j.event_id === 'get', 10_000, from2)).json).toMatchObject({ twin: { level: { expected: { value: '50' } } } });
      // The broken manifest was logged and skipped; the process is still the same one.
      expect(edge.output().stderr).toMatch(/EDGETWIN_ERR_MANIFEST_INVALID/);
      expect(edge.child.exitCode).toBeNull();
    } finally {
      await client.close();
      expect(await edge.stop()).toBe(0);
    }
    expect(edge.output().stdout).toContain('edgetwin stopped');
  });
});

describe('EdgeCore.reload() with in-process mappers', () => {
  const tmp = tempDir('edgetwin-reload-mappers-');
  let edge: TestEdge | undefined;
  afterAll(async () => {
    await edge?.stop();
    tmp.cleanup();
  });

  it('stops the mapper of a removed device and starts one for a device added back', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const thermostat = readFileSync(path.join(EXAMPLES, 'devices', 'thermostat.yaml'), 'utf8').replace('port: "1502"', `port: "${port}"`).replace('nodeName: edge-1', 'nodeName: edge-test');
    const config = { simulate: ['default/thermostat'], mappers: { enabled: ['modbus' as const] }, metrics: { enabled: false } };
    edge = await startEdge({ 'thermostat.yaml': thermostat, 'other.yaml': thermostatManifest('other') }, config, tmp.dir);
    const core = edge.core;
    const reading = async (): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (core.twin.get('default/thermostat')?.twins.temperature?.actual === undefined) {
        if (Date.now() > deadline) throw new Error('no reading from the Modbus mapper');
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await reading();
    expect(core.mapperStatus().map((s) => s.id)).toEqual(['default/thermostat']);

    rmSync(path.join(tmp.dir, 'devices', 'thermostat.yaml'));
    const without = await core.reload();
    expect(without).toMatchObject({ devices: 1, problems: [] });
    expect(core.mapperStatus()).toEqual([]);
    expect(core.twin.get('default/thermostat')).toBeUndefined();
    expect(core.twin.get('default/other')).toBeDefined();

    writeFileSync(path.join(tmp.dir, 'devices', 'thermostat.yaml'), thermostat);
    // Two reloads asked for at once run as one more after the first, not side by side.
    const [a, b] = await Promise.all([core.reload(), core.reload()]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ devices: 2, problems: [] });
    expect(core.mapperStatus().map((s) => s.id)).toEqual(['default/thermostat']);
    await reading(); // the new worker reads again into the re-bound twin
  });
});
