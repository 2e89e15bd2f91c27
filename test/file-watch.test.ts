// Models and manifests reload by themselves when their files change (config `watch`, on by
// default): a real EdgeCore over a real broker, files edited the way people and editors do —
// a new file, an atomic save (write a temp file, rename it over the old), a removal, a broken
// file, a new folder — and the devices bound and unbound live with the same validation as
// start-up. No SIGHUP, no reload() call: only the files change.

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { EdgeCore, resolveConfig } from '../index.js';
import { eventually } from './async.js';
import { tempDir, TestClient, thermostatManifest, writeManifests } from './helpers.js';

const MEMBERSHIP = '$hw/events/node/edge-test/membership/updated';
const D = '$hw/events/device/default';

const dialModel = (maximum: number): string =>
  JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'dial', type: 'object', properties: { level: { type: 'integer', minimum: 0, maximum } }, additionalProperties: false });
const dialManifest = (name: string): string => `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: ${name}, namespace: default }
spec:
  deviceModelRef: { name: dial }
  nodeName: edge-test
  protocol: { protocolName: external }
  properties: [{ name: level }]
`;

/** Writes `text` the way editors save: a temp file in the same folder renamed over the target. */
function atomicWrite(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

interface Logged {
  readonly msg: string;
  readonly [key: string]: unknown;
}

describe('models and manifests reload when their files change', () => {
  const tmp = tempDir('edgetwin-file-watch-');
  const logs: Logged[] = [];
  let core: EdgeCore | undefined;
  let client: TestClient | undefined;
  afterAll(async () => {
    await client?.close();
    await core?.stop();
    tmp.cleanup();
  });

  it('binds added, updates changed and unbinds removed devices without a restart; a broken file is skipped', { timeout: 120_000 }, async () => {
    const devices = path.join(tmp.dir, 'devices');
    const models = path.join(tmp.dir, 'models');
    const later = path.join(tmp.dir, 'later'); // a manifest folder that does not exist at start
    writeManifests(devices, { 'thermo.yaml': thermostatManifest('thermo'), 'gone.yaml': thermostatManifest('gone') });
    writeManifests(models, { 'dial.json': dialModel(10) });
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Logged) });
    core = new EdgeCore({
      config: resolveConfig({ nodeName: 'edge-test', dataDir: path.join(tmp.dir, 'data'), models: [models], devices: [devices, later], mqtt: { port: 0 }, http: { enabled: false } }),
      logger,
    });
    const started = await core.start();
    expect(started.devices).toBe(2);
    expect(core.watchingFiles).toBe(true);
    const twin = core.twin;
    client = await TestClient.connect(core.brokerUrl, [MEMBERSHIP, `${D}/+/twin/update/result`]);
    const c = client;
    const setLevel = async (name: string, level: number, eventId: string): Promise<Record<string, unknown>> => {
      const from = c.count;
      await c.publish(`${D}/${name}/twin/update`, { event_id: eventId, twin: { level: { expected: { value: String(level) } } } });
      return (await c.next(`${D}/${name}/twin/update/result`, (j) => j.event_id === eventId, 10_000, from)).json;
    };

    // A new manifest file, and one removed: one membership update for the burst.
    let from = c.count;
    writeFileSync(path.join(devices, 'dial.yaml'), dialManifest('dial-1'));
    rmSync(path.join(devices, 'gone.yaml'));
    const update = (await c.next(MEMBERSHIP, () => true, 20_000, from)).json;
    expect(update).toMatchObject({ added_devices: [expect.objectContaining({ id: 'default/dial-1' })], removed_devices: [{ id: 'default/gone', name: 'gone' }] });
    expect(twin.get('default/gone')).toBeUndefined();
    expect(await setLevel('dial-1', 7, 'dial-7')).toMatchObject({ version: 1 });
    expect(await setLevel('dial-1', 50, 'dial-50')).toMatchObject({ error_code: 'EDGETWIN_ERR_MODEL_VALIDATION' });

    // The model changes by an atomic save (maximum 10 → 100): the bound device follows, its state kept.
    atomicWrite(path.join(models, 'dial.json'), dialModel(100));
    await eventually(async () => ((await setLevel('dial-1', 50, `dial-50-${Date.now()}`)).version === 2 ? true : undefined), 20_000);
    expect(twin.get('default/dial-1')?.twins.level?.expected?.value).toBe('50');

    // A broken manifest is logged with its code and skipped; the others stay bound.
    const before = logs.length;
    writeFileSync(path.join(devices, 'broken.yaml'), 'apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata: { name: broken }\nspec: {}\n');
    await eventually(async () => (logs.slice(before).some((l) => l.msg === 'models and manifests reloaded') ? true : undefined), 20_000);
    expect(JSON.stringify(logs.slice(before))).toMatch(/EDGETWIN_ERR_MANIFEST_INVALID/);
    expect(twin.get('default/thermo')).toBeDefined();
    expect(twin.get('default/dial-1')).toBeDefined();

    // A folder named in the config that appears later is picked up, its devices bound.
    from = c.count;
    mkdirSync(later);
    writeFileSync(path.join(later, 'late.yaml'), thermostatManifest('late'));
    const joined = (await c.next(MEMBERSHIP, (j) => JSON.stringify(j).includes('default/late'), 20_000, from)).json;
    expect(joined).toMatchObject({ added_devices: [expect.objectContaining({ id: 'default/late' })] });

    // Bursts a second or so apart, while reloads run: an edit in place, then each file removed
    // in turn, the last one too — every step is picked up.
    let mark = logs.length;
    atomicWrite(path.join(devices, 'thermo.yaml'), thermostatManifest('thermo'));
    rmSync(path.join(devices, 'broken.yaml'));
    await eventually(async () => (logs.slice(mark).some((l) => l.msg === 'models and manifests reloaded') ? true : undefined), 20_000);
    rmSync(path.join(devices, 'dial.yaml'));
    await eventually(async () => (twin.get('default/dial-1') === undefined ? true : undefined), 20_000);
    rmSync(path.join(devices, 'thermo.yaml'));
    await eventually(async () => (twin.get('default/thermo') === undefined ? true : undefined), 20_000);
    expect(twin.get('default/late')).toBeDefined();

    // An editor's swap file changes nothing (no reload is logged for it).
    // The swap file is written first, then a real change: the one reload that follows names
    // only the real file (so the swap file was seen and passed over, not merely not seen yet).
    mark = logs.length;
    writeFileSync(path.join(devices, '.thermo.yaml.swp'), 'not yaml: [');
    writeFileSync(path.join(devices, 'again.yaml'), thermostatManifest('again'));
    await eventually(async () => (twin.get('default/again') !== undefined ? true : undefined), 20_000);
    const changed = logs.slice(mark).filter((l) => l.msg === 'models or manifests changed: reloading');
    expect(changed.flatMap((l) => l.files as string[])).toEqual([path.join(devices, 'again.yaml')]);
  });

  it('does not watch with watch: false', { timeout: 60_000 }, async () => {
    const dir = tempDir('edgetwin-no-watch-');
    const devices = path.join(dir.dir, 'devices');
    writeManifests(devices, { 'thermo.yaml': thermostatManifest('thermo') });
    const quietLogs: Logged[] = [];
    const edge = new EdgeCore({
      config: resolveConfig({ nodeName: 'edge-test', dataDir: path.join(dir.dir, 'data'), devices: [devices], mqtt: { port: 0 }, http: { enabled: false }, watch: false }),
      logger: pino({ level: 'info' }, { write: (line: string) => void quietLogs.push(JSON.parse(line) as Logged) }),
    });
    try {
      await edge.start();
      expect(edge.watchingFiles).toBe(false);
      // Only an explicit reload (or SIGHUP) takes a new file then.
      writeFileSync(path.join(devices, 'other.yaml'), thermostatManifest('other'));
      await edge.reload();
      expect(edge.twin.get('default/other')).toBeDefined();
      expect(quietLogs.filter((l) => l.msg === 'models or manifests changed: reloading')).toEqual([]);
    } finally {
      await edge.stop();
      dir.cleanup();
    }
  });
});
