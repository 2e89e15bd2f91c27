// The simulated adapter driven by noble's own central code (with-bindings), not by the mapper:
// it must behave as noble expects a binding to, and as the fault injection promises.

import { nextEvent } from '../../test/async.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { NobleCentral, NoblePeripheral } from '../../mappers/bluetooth/index.js';
import { loadDevices, loadModels } from '../../schemas/index.js';
import { createSimulatedAdapter, startBleTestRig, type BleTestRig, type SimulatedAdapter, type SimulatedPeripheral } from './index.js';

const rigs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

function rig(options: Parameters<typeof startBleTestRig>[0] = {}): BleTestRig {
  const r = startBleTestRig(options);
  rigs.push(r);
  return r;
}

/** Resolves with the next emission of `event`, or rejects after `ms`. */
function next<T extends unknown[]>(emitter: Parameters<typeof nextEvent>[0], event: string, ms = 2000): Promise<T> {
  return nextEvent<T>(emitter, event, { signal: AbortSignal.timeout(ms) });
}

async function discover(noble: NobleCentral, address: string): Promise<NoblePeripheral> {
  const found = new Promise<NoblePeripheral>((resolve) => {
    const onDiscover = (p: NoblePeripheral): void => {
      if (p.address !== address) return;
      noble.removeListener('discover', onDiscover);
      resolve(p);
    };
    noble.on('discover', onDiscover);
  });
  await noble.startScanningAsync([], true);
  const p = await found;
  noble.stopScanning();
  return p;
}

describe('simulated adapter under noble', () => {
  it('advertises address and local name, connects, and serves its GATT table', async () => {
    const { adapter, peripherals } = rig();
    const sim = peripherals[0]!;
    const p = await discover(adapter.noble, 'c0:ff:ee:00:00:01');
    expect(p.advertisement.localName).toBe('ble-test');
    await p.connectAsync();
    const { services, characteristics } = await p.discoverSomeServicesAndCharacteristicsAsync([], []);
    expect(services.map((s) => s.uuid)).toEqual(expect.arrayContaining(['1800', '181a', '8e2f00006b3a4d6c9e2f5a1b2c3d4e5f']));
    const temperature = characteristics.find((c) => c.uuid === '2a6e')!;
    expect(temperature.properties).toEqual(['read', 'notify']);
    expect([...(await temperature.readAsync())]).toEqual([0x29, 0x09]); // 23.45 °C, sint16 LE in 0.01
    expect(sim.stats).toMatchObject({ connects: 1, reads: 1 });
  });

  it('stores writes, observably, and decodes them per property', async () => {
    const { adapter, peripherals } = rig();
    const sim = peripherals[0]!;
    const p = await discover(adapter.noble, sim.address);
    await p.connectAsync();
    const { characteristics } = await p.discoverSomeServicesAndCharacteristicsAsync([], ['8e2f00156b3a4d6c9e2f5a1b2c3d4e5f']);
    const seen = next<[{ data: Buffer; properties: string[] }]>(sim, 'write');
    await characteristics[0]!.writeAsync(Buffer.from([1]), false);
    const [write] = await seen;
    expect([...write.data]).toEqual([1]);
    expect(write.properties).toEqual(['switch']);
    expect(sim.value('switch')).toBe('ON');
  });

  it('notifies subscribed characteristics, and forgets subscriptions on disconnect', async () => {
    const { adapter, peripherals } = rig();
    const sim = peripherals[0]!;
    const p = await discover(adapter.noble, sim.address);
    await p.connectAsync();
    const { characteristics } = await p.discoverSomeServicesAndCharacteristicsAsync(['181a'], ['2a6f']);
    const humidity = characteristics[0]!;
    await humidity.subscribeAsync();
    const data = next<[Buffer, boolean]>(humidity as unknown as NodeJS.EventEmitter, 'data');
    sim.set('humidity', 55.25);
    const [bytes, isNotification] = await data;
    expect(isNotification).toBe(true);
    expect(bytes.readUInt16LE(0)).toBe(5525);
    expect(sim.characteristics.find((c) => c.uuid === '2a6f')?.notifying).toBe(true);
    const dropped = next(p as unknown as NodeJS.EventEmitter, 'disconnect');
    sim.disconnect();
    await dropped;
    expect(sim.characteristics.some((c) => c.notifying)).toBe(false);
  });

  it('evolves read-only values within the model bounds, the same way for the same seed', () => {
    const walk = (seed: number): number[] => {
      const { adapter, peripherals } = rig({ seed });
      const values: number[] = [];
      for (let i = 0; i < 200; i++) {
        adapter.tick();
        values.push(peripherals[0]!.value('temperature') as number);
      }
      return values;
    };
    const a = walk(7);
    expect(walk(7)).toEqual(a);
    expect(walk(8)).not.toEqual(a);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(-40);
    expect(Math.max(...a)).toBeLessThanOrEqual(85);
    expect(new Set(a).size).toBeGreaterThan(10);
  });

  it('notifies at the configured rate while connected', async () => {
    const { adapter, peripherals } = rig({ notifyIntervalMs: 10 });
    const sim = peripherals[0]!;
    const p = await discover(adapter.noble, sim.address);
    await p.connectAsync();
    const { characteristics } = await p.discoverSomeServicesAndCharacteristicsAsync(['181a'], ['2a6e']);
    await characteristics[0]!.subscribeAsync();
    for (let i = 0; i < 3; i++) await next(sim, 'notify');
  });

  it('refuses connections on demand, and defers a connect until advertising resumes', async () => {
    const { adapter, peripherals } = rig();
    const sim = peripherals[0]!;
    const p = await discover(adapter.noble, sim.address);
    sim.refuseConnections();
    await expect(p.connectAsync()).rejects.toThrow(/Connection Failed/);
    sim.refuseConnections(false);
    sim.stopAdvertising();
    const connected = p.connectAsync();
    await new Promise((r) => setImmediate(r));
    expect(sim.connected).toBe(false);
    sim.resumeAdvertising();
    await connected;
    expect(sim.connected).toBe(true);
  });

  it('stops advertising on demand', async () => {
    const { adapter, peripherals } = rig({ devices: [{}, { name: 'witness', macAddress: 'C0:FF:EE:00:00:02' }] });
    const [silent, witness] = peripherals as [SimulatedPeripheral, SimulatedPeripheral];
    silent.stopAdvertising();
    const seen: string[] = [];
    adapter.noble.on('discover', (p) => seen.push(p.address));
    await adapter.noble.startScanningAsync([], true);
    // Three advertisements from the witness: the silent one had as many chances.
    while (seen.filter((a) => a === witness.address).length < 3) await next(adapter.noble as unknown as NodeJS.EventEmitter, 'discover');
    expect(seen).not.toContain(silent.address);
    silent.resumeAdvertising();
    while (!seen.includes(silent.address)) await next(adapter.noble as unknown as NodeJS.EventEmitter, 'discover');
    adapter.noble.stopScanning();
  });

  it('answers a failing read as noble reports an ATT error (no bytes), and a silent one never', async () => {
    const { adapter, peripherals } = rig();
    const sim = peripherals[0]!;
    const p = await discover(adapter.noble, sim.address);
    await p.connectAsync();
    const { characteristics } = await p.discoverSomeServicesAndCharacteristicsAsync(['181a'], ['2a6e']);
    sim.failReads('error');
    expect((await characteristics[0]!.readAsync()).length).toBe(0);
    sim.failReads(false);
    sim.slowReads(30);
    const started = Date.now();
    expect((await characteristics[0]!.readAsync()).length).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('powers off: links drop, scanning stops, noble sees poweredOff', async () => {
    const { adapter, peripherals } = rig();
    const sim = peripherals[0]!;
    const p = await discover(adapter.noble, sim.address);
    await p.connectAsync();
    const dropped = next(p as unknown as NodeJS.EventEmitter, 'disconnect');
    const state = next<[string]>(adapter.noble as unknown as NodeJS.EventEmitter, 'stateChange');
    adapter.setPowered(false);
    await dropped;
    expect((await state)[0]).toBe('poweredOff');
    await expect(adapter.noble.startScanningAsync([], true)).rejects.toThrow(/poweredOff/);
  });

  it('builds peripherals from the example manifest and bundled model (the demo sensor)', async () => {
    const { models } = loadModels([new URL('../../schemas/models', import.meta.url).pathname]);
    const { devices } = loadDevices([new URL('../../examples/devices/ble-sensor.yaml', import.meta.url).pathname], models);
    const adapter: SimulatedAdapter = createSimulatedAdapter({ devices, models, notifyIntervalMs: 0 });
    rigs.push(adapter);
    const sim = adapter.peripherals.get('a4:c1:38:00:00:01')!;
    expect(sim).toBeDefined();
    expect(sim.value('led')).toBe(false);
    expect(sim.value('interval')).toBe(10);
    expect(sim.localName).toBe('ble-env-sensor-1');
  });
});
