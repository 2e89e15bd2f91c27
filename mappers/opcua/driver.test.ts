// The OPC UA driver against node-opcua's own server on a free loopback port: one Read request per
// batch, monitored items that push without polling, refused writes, security, and reconnection
// after the server restarts on the same port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { isEdgetwinError, type PropertyValue } from 'edgetwin';
import { bindDevice, type DeviceDriver, type DriverDevice, type DriverProperty, type ReadResult } from 'edgetwin/sdk';
import { createOpcuaMapper } from './index.js';
import { startOpcuaServer, type OpcuaSimServer } from './simulator.js';
import { ctx, eventually, freePort, opcuaTestDevice, opcuaTestModel, startOpcuaRig, type OpcuaRig } from './harness.test-support.js';

const fast = { baseMs: 20, maxMs: 200, jitter: 0.2 };

function deadline(ms = 5000): AbortSignal {
  return AbortSignal.timeout(ms);
}

describe('opcua driver (node-opcua server)', () => {
  let rig: OpcuaRig;
  let driver: DeviceDriver;
  let props: Map<string, DriverProperty>;
  let restarted: OpcuaSimServer | undefined;
  const pick = (...names: string[]): DriverProperty[] => names.map((n) => props.get(n)!);

  beforeAll(async () => {
    rig = await startOpcuaRig({ readOnlyOnServer: ['ratio'] });
    const factory = createOpcuaMapper({ pkiDir: `${rig.pkiDir}/client`, backoff: fast });
    const bound = bindDevice(factory, rig.device, rig.model);
    props = new Map(bound.driverDevice.properties.map((p) => [p.name, p]));
    driver = factory.connect(ctx, bound.driverDevice);
  }, 120_000);

  afterAll(async () => {
    await driver?.close();
    await restarted?.close();
    await rig?.close();
  }, 60_000);

  it('reads a batch of properties in one Read service call', async () => {
    const names = [...props.keys()];
    await driver.read(pick('counter'), deadline()); // opens the session
    const before = rig.server.reads.length;
    const results = await driver.read(pick(...names), deadline());
    expect(results.every((r) => r.ok)).toBe(true);
    expect(rig.server.reads.slice(before)).toEqual([names.length]);
    const values = Object.fromEntries(names.map((n, i) => [n, (results[i] as { value: PropertyValue }).value]));
    expect(values).toMatchObject({ setpoint: 21, mode: 'heat', power: true, level: 7, ratio: 0.5 });
  }, 90_000);

  it('pushes a monitored property on change, without polling', async () => {
    const pushed: Array<[string, ReadResult]> = [];
    const unsubscribe = await driver.subscribe!([...props.values()], (name, r) => pushed.push([name, r]));
    try {
      const before = rig.server.reads.length;
      rig.server.set(rig.deviceId, 'temperature', 42.5);
      rig.server.set(rig.deviceId, 'counter', 99); // not monitored: no push
      await eventually(() => (pushed.some(([n, r]) => n === 'temperature' && r.ok && r.value === 42.5) ? true : undefined));
      rig.server.set(rig.deviceId, 'temperature', -3);
      await eventually(() => (pushed.some(([n, r]) => n === 'temperature' && r.ok && r.value === -3) ? true : undefined));
      expect(pushed.every(([n]) => n === 'temperature')).toBe(true);
      expect(rig.server.reads.length).toBe(before);
    } finally {
      await unsubscribe();
    }
  }, 90_000);

  it('writes with the node type (UInt16, Float) and refuses a read-only node with a coded error', async () => {
    await driver.write(props.get('level')!, 65000, deadline());
    expect(rig.server.get(rig.deviceId, 'level')).toBe(65000);
    await expect(driver.write(props.get('level')!, 70000, deadline())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_OPCUA_VALUE' });
    // `ratio` is writable in the model but read-only on the server.
    const refused = await driver.write(props.get('ratio')!, 0.25, deadline()).catch((e: unknown) => e);
    expect(isEdgetwinError(refused, 'EDGETWIN_ERR_PROPERTY_NOT_WRITABLE'), String(refused)).toBe(true);
    expect(rig.server.get(rig.deviceId, 'ratio')).toBe(0.5);
  }, 90_000);

  it('reconnects by itself after the server restarts on the same port: polls and monitored items flow again', async () => {
    const pushed: number[] = [];
    const unsubscribe = await driver.subscribe!([...props.values()], (name, r) => {
      if (name === 'temperature' && r.ok) pushed.push(r.value as number);
    });
    try {
      const connectsBefore = driver.connects!;
      await rig.server.close();
      await eventually(() => (driver.state() === 'offline' ? true : undefined));
      const failed = await driver.read(pick('counter'), deadline(3000)).catch((e: unknown) => e);
      expect(isEdgetwinError(failed), String(failed)).toBe(true);

      restarted = await startOpcuaServer(rig.url, [{ instance: rig.device, model: rig.model }], ctx, { pkiDir: rig.pkiDir, port: rig.serverPort });
      // Nobody reads: the driver re-opens the session for its monitored items by itself.
      await eventually(() => (driver.state() === 'online' ? true : undefined), 30_000);
      expect(driver.connects).toBeGreaterThan(connectsBefore);
      restarted.set(rig.deviceId, 'temperature', 77.25);
      await eventually(() => (pushed.includes(77.25) ? true : undefined));
      restarted.set(rig.deviceId, 'counter', 1234);
      const [r] = await driver.read(pick('counter'), deadline());
      expect(r).toMatchObject({ ok: true, value: 1234 });
    } finally {
      await unsubscribe();
    }
  }, 90_000);
});

describe('opcua config and unreachable endpoints', () => {
  const factory = createOpcuaMapper({ backoff: fast });
  const m = opcuaTestModel();
  const bound = (url: string, o: Parameters<typeof opcuaTestDevice>[2] = {}): DriverDevice => bindDevice(factory, opcuaTestDevice(m, url, o), m).driverDevice;

  async function listen(onConnection: (s: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
    const server = createServer(onConnection);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { port: (server.address() as { port: number }).port, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it.each<[string, { protocol?: Record<string, unknown>; visitors?: Record<string, Record<string, unknown>> }]>([
    ['a URL that is not opc.tcp', { protocol: { url: 'http://127.0.0.1:4840/' } }],
    ['a URL with no valid port', { protocol: { url: 'opc.tcp://127.0.0.1:99999/UA' } }],
    ['an unknown securityPolicy', { protocol: { securityPolicy: 'Basic512' } }],
    ['Basic128Rsa15 (needs a Node security revert)', { protocol: { securityPolicy: 'Basic128Rsa15', securityMode: 'Sign' } }],
    ['a policy with securityMode None', { protocol: { securityPolicy: 'Basic256Sha256', securityMode: 'None' } }],
    ['a malformed nodeID', { visitors: { counter: { nodeID: 'ns=1,i=1001' } } }],
    ['a nodeID with a bad guid', { visitors: { counter: { nodeID: 'ns=1;g=not-a-guid' } } }],
    ['a nodeID with a namespace index beyond 65535', { visitors: { counter: { nodeID: 'ns=70000;i=1' } } }],
  ])('refuses %s with EDGETWIN_ERR_MAPPER_CONFIG at connect, before any network', async (_label, o) => {
    let connections = 0;
    const listener = await listen((s) => {
      connections++;
      s.destroy();
    });
    try {
      const url = `opc.tcp://127.0.0.1:${listener.port}/UA/x`;
      const good = bound(url);
      // What connect() gets when the schema check is skipped (e.g. a caller without bindDevice).
      const device: DriverDevice = {
        ...good,
        protocol: { ...(good.protocol as object), ...o.protocol },
        properties: good.properties.map((p) => (o.visitors?.[p.name] ? { ...p, visitor: o.visitors[p.name] } : p)),
      };
      let thrown: unknown;
      try {
        factory.connect(ctx, device);
      } catch (e) {
        thrown = e;
      }
      expect(isEdgetwinError(thrown, 'EDGETWIN_ERR_MAPPER_CONFIG'), String(thrown)).toBe(true);
      expect(connections).toBe(0);
    } finally {
      await listener.close();
    }
  });

  it('the JSON Schemas refuse an unknown securityPolicy and a missing nodeID when the device is bound', () => {
    const url = 'opc.tcp://127.0.0.1:4840/UA/x';
    expect(() => bound(url, { protocol: { securityPolicy: 'Basic512' } })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_MAPPER_CONFIG' }));
    expect(() => bound(url, { visitors: { counter: { browseName: 'Counter' } } })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_MAPPER_CONFIG' }));
  });

  it('an endpoint nobody listens on: a coded connection error, no hang', async () => {
    const device = bound(`opc.tcp://127.0.0.1:${await freePort()}/UA/x`);
    const driver = factory.connect(ctx, device);
    try {
      const err = await driver.read(device.properties.slice(0, 2), AbortSignal.timeout(15_000)).catch((e: unknown) => e);
      expect(isEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONNECTION'), String(err)).toBe(true);
      expect(driver.state()).not.toBe('online');
    } finally {
      await driver.close();
    }
  }, 90_000);

  it('an endpoint that accepts and never answers: a coded error by the deadline', async () => {
    const held: Socket[] = [];
    const blackhole = await listen((s) => void held.push(s));
    const device = bound(`opc.tcp://127.0.0.1:${blackhole.port}/UA/x`, { protocol: { timeout: 500 } });
    const driver = factory.connect(ctx, device);
    try {
      const started = Date.now();
      const err = await driver.read(device.properties.slice(0, 2), AbortSignal.timeout(1000)).catch((e: unknown) => e);
      expect(isEdgetwinError(err), String(err)).toBe(true);
      expect(['EDGETWIN_ERR_MAPPER_TIMEOUT', 'EDGETWIN_ERR_MAPPER_CONNECTION']).toContain((err as { code: string }).code);
      expect(Date.now() - started).toBeLessThan(30_000); // "no hang", not a speed check: the deadline is 1 s
    } finally {
      await driver.close();
      for (const s of held) s.destroy();
      await blackhole.close();
    }
  }, 90_000);
});
