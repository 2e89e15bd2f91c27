// The OPC UA mapper under edgetwin's mapper runtime on the embedded broker: a desired value goes
// the closed loop (write -> read back -> reported actual, ack applied), a write the server refuses
// (a node it holds read-only) is acked rejected with its code, and a monitored property is
// reported from its monitored item. Then security: Sign and SignAndEncrypt with Basic256Sha256.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker, deviceTopic, type DeviceInstance } from 'edgetwin';
import { MapperRuntime, bindDevice } from 'edgetwin/sdk';
import { createOpcuaMapper } from './index.js';
import { ctx, eventually, opcuaTestDevice, quiet, startOpcuaRig, type OpcuaRig } from './harness.test-support.js';

interface TwinEntry {
  readonly actual?: { readonly value?: string };
  readonly ack?: { readonly state?: string; readonly value?: string; readonly code?: string };
}

describe('opcua under the mapper runtime', () => {
  let rig: OpcuaRig;
  let broker: EmbeddedBroker;
  let runtime: MapperRuntime;
  let instance: DeviceInstance;
  const seen: Array<Record<string, TwinEntry>> = [];

  beforeAll(async () => {
    rig = await startOpcuaRig({ readOnlyOnServer: ['ratio'] });
    // Slow polls (60 s): the monitored temperature must arrive without them.
    instance = { ...rig.device, properties: rig.device.properties.map((p) => ({ ...p, collectCycle: p.name === 'temperature' ? 60_000 : 100, reportCycle: 60_000 })) };
    broker = new EmbeddedBroker({ port: 0, logger: quiet });
    await broker.start();
    await broker.subscribe(deviceTopic(instance.namespace, instance.name, 'twin/update'), (_t, payload) => {
      const twin = (JSON.parse(payload.toString()) as { twin?: Record<string, TwinEntry> }).twin;
      if (twin) seen.push(twin);
    });
    const factory = createOpcuaMapper({ pkiDir: `${rig.pkiDir}/client`, backoff: { baseMs: 20, maxMs: 200, jitter: 0.2 } });
    runtime = new MapperRuntime({ bus: broker, factories: [factory], logger: quiet, timeoutMs: 2000, backoff: { baseMs: 20, maxMs: 200, jitter: 0.2 } });
    const problems = await runtime.setDevices([{ instance, model: rig.model }]);
    expect(problems).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    await runtime?.stop();
    await broker?.close();
    await rig?.close();
  }, 60_000);

  const delta = (property: string, value: string): Promise<void> =>
    broker.publish(deviceTopic(instance.namespace, instance.name, 'twin/update/delta'), JSON.stringify({ event_id: `d-${property}`, timestamp: Date.now(), twin: {}, delta: { [property]: value } }));

  const ackOf = (property: string, value: string): Promise<TwinEntry> =>
    eventually(() => seen.map((t) => t[property]).find((e) => e?.ack?.value === value && e.ack.state !== 'pending'));

  it('closes the loop: written, read back, reported as actual, acked applied', async () => {
    await delta('setpoint', '30.5');
    const entry = await ackOf('setpoint', '30.5');
    expect(entry).toMatchObject({ ack: { state: 'applied' }, actual: { value: '30.5' } });
    expect(rig.server.get(rig.deviceId, 'setpoint')).toBe(30.5);
  }, 90_000);

  it('a node the server holds read-only: acked rejected with EDGETWIN_ERR_PROPERTY_NOT_WRITABLE, value unchanged', async () => {
    await delta('ratio', '0.75');
    const entry = await ackOf('ratio', '0.75');
    expect(entry.ack).toMatchObject({ state: 'rejected', code: 'EDGETWIN_ERR_PROPERTY_NOT_WRITABLE' });
    expect(rig.server.get(rig.deviceId, 'ratio')).toBe(0.5);
  }, 90_000);

  it('reports a monitored property from its monitored item, between polls', async () => {
    // The first poll has run (the loop above needed the device online); temperature's next is 60 s away.
    rig.server.set(rig.deviceId, 'temperature', 55.5);
    await eventually(() => (seen.some((t) => t.temperature?.actual?.value === '55.5') ? true : undefined));
  }, 90_000);
});

describe('opcua security', () => {
  let rig: OpcuaRig;
  let passwordFile: string;
  let dir: string;
  beforeAll(async () => {
    // The simulator takes the device's userName and password file as a valid user.
    dir = mkdtempSync(join(tmpdir(), 'edgetwin-opcua-user-'));
    passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 's3cret\n');
    rig = await startOpcuaRig({ device: { protocol: { userName: 'operator', password: passwordFile } } });
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it.each([
    ['Basic256Sha256', 'Sign'],
    ['Basic256Sha256', 'SignAndEncrypt'],
    ['Aes128Sha256RsaOaep', 'SignAndEncrypt'],
  ])('reads over %s %s', async (securityPolicy, securityMode) => {
    const factory = createOpcuaMapper({ pkiDir: `${rig.pkiDir}/client` });
    const device = bindDevice(factory, opcuaTestDevice(rig.model, rig.url, { protocol: { securityPolicy, securityMode, timeout: 10_000 } }), rig.model).driverDevice;
    const driver = factory.connect(ctx, device);
    try {
      const results = await driver.read(device.properties.filter((p) => p.name === 'setpoint' || p.name === 'mode'), AbortSignal.timeout(30_000));
      expect(results).toMatchObject([{ ok: true, value: 21 }, { ok: true, value: 'heat' }]);
    } finally {
      await driver.close();
    }
  }, 90_000);

  it('signs in with userName and a password file; a wrong password or a missing file is a coded error', async () => {
    const factory = createOpcuaMapper({ pkiDir: `${rig.pkiDir}/client` });
    const wrong = join(rig.pkiDir, 'wrong-password');
    writeFileSync(wrong, 'nope\n');
    const attempt = async (protocol: Record<string, unknown>): Promise<unknown> => {
      const device = bindDevice(factory, opcuaTestDevice(rig.model, rig.url, { protocol: { timeout: 10_000, ...protocol } }), rig.model).driverDevice;
      const driver = factory.connect(ctx, device);
      try {
        return await driver.read(device.properties.filter((p) => p.name === 'mode'), AbortSignal.timeout(30_000)).catch((e: unknown) => e);
      } finally {
        await driver.close();
      }
    };
    expect(await attempt({ userName: 'operator', password: passwordFile })).toEqual([{ ok: true, value: 'heat' }]);
    expect(await attempt({ userName: 'operator', password: wrong })).toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONNECTION' });
    expect(await attempt({ userName: 'operator', password: join(rig.pkiDir, 'absent') })).toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONFIG' });
  }, 120_000);
});
