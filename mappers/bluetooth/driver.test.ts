// The Bluetooth driver end to end: noble's real central code over the simulated binding. Reads of
// every dataType, writes (dataWrite and typed), notifications, and their survival across drops.

import { once } from 'node:events';
import { nextEvent } from '../../test/async.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BLE_TEST_VALUES, startBleTestRig, type BleTestRig, type SimulatedPeripheral } from '../../simulators/bluetooth/index.js';
import { compileCodec, createBluetoothMapper, parseVisitorConfig } from './index.js';
import { connect, deadline, rejection, SinkRecorder, type Harness } from './harness.test-support.js';

const FAST = { scanTimeoutMs: 500, connectTimeoutMs: 500, requestTimeoutMs: 300 };
const TYPED = ['u8', 'i8', 'u16le', 'u16be', 'i16le', 'i16be', 'u32le', 'u32be', 'i32le', 'i32be', 'f32le', 'f32be', 'f64le', 'f64be', 'text', 'flag', 'raw'];
const ALL = [...TYPED, 'temperature', 'humidity', 'packedA', 'packedB', 'switch', 'legacy'];

function wire(h: Harness, name: string, value: unknown): string {
  const checked = h.props.get(name)!.model.check(value as never);
  if (!checked.ok) throw new Error(`${name}: ${checked.message}`);
  return checked.wire;
}

describe('Bluetooth driver over the simulated adapter', () => {
  let rig: BleTestRig;
  let sim: SimulatedPeripheral;
  let h: Harness;

  beforeAll(() => {
    rig = startBleTestRig({ devices: [{ protocol: FAST }] });
    sim = rig.peripherals[0]!;
    const factory = createBluetoothMapper({ noble: rig.adapter.noble, backoff: { initialMs: 10, maxMs: 50 } });
    h = connect(factory, rig.devices[0]!, rig.model);
  });

  afterAll(async () => {
    await h?.driver.close();
    await rig?.close();
  });

  it('starts unknown and connects lazily on first use', () => {
    expect(h.driver.state()).toBe('unknown');
    expect(sim.stats.connectAttempts).toBe(0);
  });

  it('reads every dataType in one batch, one GATT read per characteristic', async () => {
    const results = await deadline(3000, (s) => h.driver.read(h.pick(...ALL), s));
    expect(results).toHaveLength(ALL.length);
    ALL.forEach((name, i) => {
      const r = results[i]!;
      expect(r.ok, `${name}: ${r.ok ? '' : r.error.message}`).toBe(true);
      if (r.ok) expect(wire(h, name, r.value), name).toBe(wire(h, name, BLE_TEST_VALUES[name]));
    });
    // packedA and packedB share one characteristic: 23 properties, 22 reads.
    expect(sim.stats.reads).toBe(ALL.length - 1);
    expect(h.driver.state()).toBe('online');
  });

  it('writes through dataWrite: the simulator sees the mapped bytes, and it reads back', async () => {
    const written = nextEvent(sim, 'write');
    await deadline(2000, (s) => h.driver.write(h.props.get('switch')!, 'ON', s));
    const [write] = (await written) as [{ data: Buffer }];
    expect([...write.data]).toEqual([1]);
    const [r] = await deadline(2000, (s) => h.driver.read(h.pick('switch'), s));
    expect(r).toEqual({ ok: true, value: 'ON' });
  });

  it('writes every typed property with typed encoding: exact bytes, and reads back', async () => {
    const next: Record<string, unknown> = {
      u8: 1, i8: -1, u16le: 0x1234, u16be: 0x1234, i16le: -2, i16be: -2, u32le: 0x01020304, u32be: 0x01020304,
      i32le: -5, i32be: -5, f32le: 0.5, f32be: -2.25, f64le: Math.PI, f64be: -1e100, text: 'ok ✓', flag: false, raw: Uint8Array.of(9, 8, 7),
    };
    for (const name of TYPED) {
      const prop = h.props.get(name)!;
      const value = next[name] as never;
      const expected = compileCodec(parseVisitorConfig(prop.visitor, name), prop.model.type, name).encode(value);
      await deadline(2000, (s) => h.driver.write(prop, value, s));
      expect([...sim.bytes(name)], name).toEqual([...expected]);
      const [r] = await deadline(2000, (s) => h.driver.read([prop], s));
      expect(r?.ok && wire(h, name, r.value), name).toBe(wire(h, name, value));
    }
  });

  it('refuses a value it cannot encode without touching the radio', async () => {
    const writes = sim.stats.writes;
    const err = await rejection(deadline(2000, (s) => h.driver.write(h.props.get('switch')!, 'DIM', s)));
    expect(err.code).toBe('EDGETWIN_ERR_BLE_VALUE');
    expect((await rejection(deadline(2000, (s) => h.driver.write(h.props.get('u8')!, 300, s)))).code).toBe('EDGETWIN_ERR_BLE_VALUE');
    expect(sim.stats.writes).toBe(writes);
  });

  it('reports a failing read (ATT error) per property, and keeps the link', async () => {
    sim.failReads('error');
    const results = await deadline(2000, (s) => h.driver.read(h.pick('u8', 'temperature'), s)).finally(() => sim.failReads(false));
    expect(results.map((r) => !r.ok && r.error.code)).toEqual(['EDGETWIN_ERR_BLE_GATT', 'EDGETWIN_ERR_BLE_GATT']);
    expect(h.driver.state()).toBe('online');
  });

  it('times a slow read out with a coded error, drops the link, and the next read reconnects', async () => {
    const connects = sim.stats.connects;
    sim.slowReads(1000);
    const err = await rejection(deadline(3000, (s) => h.driver.read(h.pick('u8'), s)));
    sim.slowReads(0);
    // The code alone says which timer fired, on any machine: the reply (1 s) would have been a
    // value, the caller's deadline (3 s) MAPPER_ABORTED; only the request timeout gives this.
    expect(err.code).toBe('EDGETWIN_ERR_MAPPER_TIMEOUT');
    expect(h.driver.state()).toBe('offline');
    const [r] = await deadline(3000, (s) => h.driver.read(h.pick('u8'), s));
    expect(r?.ok).toBe(true);
    expect(sim.stats.connects).toBe(connects + 1);
  });

  it('honours the caller AbortSignal', async () => {
    sim.slowReads(250);
    const controller = new AbortController();
    const pending = h.driver.read(h.pick('u8'), controller.signal);
    setImmediate(() => controller.abort());
    const err = await rejection(pending);
    sim.slowReads(0);
    expect(err.code).toBe('EDGETWIN_ERR_MAPPER_ABORTED');
  });

  it('after an injected disconnect the next read reconnects', async () => {
    await deadline(2000, (s) => h.driver.read(h.pick('u8'), s));
    const connects = sim.stats.connects;
    // noble hears of the drop when the binding emits it (noble's listener runs first).
    const dropped = once(rig.adapter.binding, 'disconnect');
    sim.disconnect();
    await dropped;
    expect(h.driver.state()).toBe('offline');
    const [r] = await deadline(3000, (s) => h.driver.read(h.pick('u8'), s));
    expect(r?.ok).toBe(true);
    expect(sim.stats.connects).toBe(connects + 1);
    expect(h.driver.state()).toBe('online');
  });

  it('a property whose characteristic the device lacks fails alone', async () => {
    const local = startBleTestRig({ devices: [{ macAddress: 'C0:FF:EE:00:00:09', protocol: FAST }] });
    const model = local.model;
    const { bleTestDevice } = await import('../../simulators/bluetooth/index.js');
    // The simulator is built from the real manifest; the mapper gets one pointing u8 elsewhere.
    const wrong = bleTestDevice(model, { macAddress: 'C0:FF:EE:00:00:09', protocol: FAST, visitors: { u8: { characteristicUUID: 'feed' } } });
    const other = connect(createBluetoothMapper({ noble: local.adapter.noble }), wrong, model);
    try {
      const results = await deadline(3000, (s) => other.driver.read(other.pick('u8', 'i8'), s));
      expect(results[0]).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_BLE_GATT' } });
      expect(results[1]).toEqual({ ok: true, value: -100 });
    } finally {
      await other.driver.close();
      await local.close();
    }
  });
});

describe('notifications', () => {
  let rig: BleTestRig;
  let sim: SimulatedPeripheral;
  let h: Harness;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(() => {
    rig = startBleTestRig({ devices: [{ protocol: FAST }] });
    sim = rig.peripherals[0]!;
    h = connect(createBluetoothMapper({ noble: rig.adapter.noble, backoff: { initialMs: 10, maxMs: 50 } }), rig.devices[0]!, rig.model);
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });
  afterAll(async () => {
    await h?.driver.close();
    await rig?.close();
  });

  it('flow through subscribe(); characteristics that cannot notify are left to polling', async () => {
    const rec = new SinkRecorder();
    const enabled = nextEvent(sim, 'subscribe');
    const unsubscribe = await h.driver.subscribe!(h.pick('temperature', 'packedA', 'packedB', 'u8'), rec.sink);
    closers.push(unsubscribe);
    expect((await enabled)[0]).toMatchObject({ enabled: true });
    sim.set('temperature', 30.5);
    expect(await rec.value('temperature', 30.5)).toEqual({ ok: true, value: 30.5 });
    // Two properties packed in one characteristic: one notification, both values.
    const both = Promise.all([rec.value('packedB', 1234), rec.value('packedA', 7)]);
    sim.set('packedB', 1234);
    await both;
    expect(rec.received.filter((r) => r.property === 'u8')).toEqual([]);
  });

  it('resume after an injected disconnect, with no new subscribe call', async () => {
    const rec = new SinkRecorder();
    closers.push(await h.driver.subscribe!(h.pick('temperature', 'humidity'), rec.sink));
    sim.set('humidity', 60);
    await rec.value('humidity', 60);
    const connects = sim.stats.connects;
    for (let drop = 1; drop <= 3; drop++) {
      // Re-enabled on the new link by the driver itself: the runtime calls nothing.
      const reenabled = new Promise<void>((resolve) => {
        const on = (e: { characteristic: string; enabled: boolean }): void => {
          if (e.characteristic === '2a6f' && e.enabled) {
            sim.off('subscribe', on);
            resolve();
          }
        };
        sim.on('subscribe', on);
      });
      sim.disconnect();
      await reenabled;
      sim.set('humidity', 60 + drop);
      await rec.value('humidity', 60 + drop);
      sim.set('temperature', 20 + drop);
      await rec.value('temperature', 20 + drop);
    }
    expect(sim.stats.connects).toBe(connects + 3);
    expect(h.driver.state()).toBe('online');
  });

  it('a sink that throws hurts neither noble nor the other subscribers', async () => {
    const rec = new SinkRecorder();
    closers.push(await h.driver.subscribe!(h.pick('temperature'), () => {
      throw new Error('a broken sink');
    }));
    closers.push(await h.driver.subscribe!(h.pick('temperature'), rec.sink));
    sim.set('temperature', -1.25);
    await rec.value('temperature', -1.25);
    sim.set('temperature', -1.5);
    await rec.value('temperature', -1.5);
  });

  it('unsubscribe stops the flow', async () => {
    const rec = new SinkRecorder();
    const unsubscribe = await h.driver.subscribe!(h.pick('humidity'), rec.sink);
    sim.set('humidity', 12.5);
    await rec.value('humidity', 12.5);
    const disabled = new Promise<void>((resolve) => {
      const on = (e: { characteristic: string; enabled: boolean }): void => {
        if (e.characteristic === '2a6f' && !e.enabled) resolve();
      };
      sim.on('subscribe', on);
    });
    await unsubscribe();
    await disabled;
    const before = rec.received.length;
    sim.set('humidity', 13);
    const [r] = await deadline(2000, (s) => h.driver.read(h.pick('humidity'), s));
    expect(r).toEqual({ ok: true, value: 13 });
    expect(rec.received.length).toBe(before);
  });

  it('a notify-only characteristic answers reads with its last notification', async () => {
    const local = startBleTestRig({ devices: [{ macAddress: 'C0:FF:EE:00:00:0A', protocol: FAST }] });
    const p = local.peripherals[0]!;
    p.setGattProperties('humidity', ['notify']);
    const other = connect(createBluetoothMapper({ noble: local.adapter.noble }), local.devices[0]!, local.model);
    try {
      const before = await deadline(2000, (s) => other.driver.read(other.pick('humidity'), s));
      expect(before[0]).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_BLE_GATT' } });
      const rec = new SinkRecorder();
      await other.driver.subscribe!(other.pick('humidity'), rec.sink);
      p.set('humidity', 77.7);
      await rec.value('humidity', 77.7);
      const reads = p.stats.reads;
      expect(await deadline(2000, (s) => other.driver.read(other.pick('humidity'), s))).toEqual([{ ok: true, value: 77.7 }]);
      expect(p.stats.reads).toBe(reads);
    } finally {
      await other.driver.close();
      await local.close();
    }
  });
});

describe('the demo device (examples/devices/ble-sensor.yaml over its simulated peripheral)', () => {
  it('reads every property, notifies temperature and humidity, and writes led and interval', async () => {
    const { loadDevices, loadModels } = await import('../../schemas/index.js');
    const { createSimulatedAdapter } = await import('../../simulators/bluetooth/index.js');
    const { models } = loadModels([new URL('../../schemas/models', import.meta.url).pathname]);
    const { devices, errors } = loadDevices([new URL('../../examples/devices/ble-sensor.yaml', import.meta.url).pathname], models);
    expect(errors).toEqual([]);
    const adapter = createSimulatedAdapter({ devices, models, notifyIntervalMs: 0, seed: 3 });
    const sim = adapter.peripherals.get('a4:c1:38:00:00:01')!;
    const demo = connect(createBluetoothMapper({ noble: adapter.noble }), devices[0]!, models.get('ble-env-sensor')!);
    try {
      const names = ['temperature', 'humidity', 'battery', 'interval', 'led'];
      const results = await deadline(3000, (s) => demo.driver.read(demo.pick(...names), s));
      expect(results.map((r, i) => r.ok && wire(demo, names[i]!, r.value))).toEqual(names.map((n) => sim.wire(n)));
      const rec = new SinkRecorder();
      await demo.driver.subscribe!(demo.pick('temperature', 'humidity'), rec.sink);
      adapter.tick();
      await Promise.all([rec.value('temperature', sim.value('temperature')), rec.value('humidity', sim.value('humidity'))]);
      await deadline(2000, (s) => demo.driver.write(demo.props.get('led')!, true, s));
      await deadline(2000, (s) => demo.driver.write(demo.props.get('interval')!, 300, s));
      expect([sim.wire('led'), sim.wire('interval')]).toEqual(['true', '300']);
      expect([...sim.bytes('interval')]).toEqual([0x2c, 0x01]);
    } finally {
      await demo.driver.close();
      await adapter.close();
    }
  });
});
