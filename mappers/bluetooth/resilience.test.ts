// Faults the radio world injects: a device that stops advertising or refuses connections (coded
// errors, backoff without hammering, recovery), an adapter that powers off, several devices on
// one adapter, and close() releasing everything. The backoff gate reads ctx.now, so a fake clock
// stands in for waiting.

import { once } from 'node:events';
import { nextEvent } from '../../test/async.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startBleTestRig, type BleTestRig } from '../../simulators/bluetooth/index.js';
import { connect, deadline, FakeClock, rejection, SinkRecorder, type Harness } from './harness.test-support.js';
import { createBluetoothMapper } from './index.js';

const FAST = { scanTimeoutMs: 150, connectTimeoutMs: 150, requestTimeoutMs: 300 };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function setup(devices = 1, clock?: FakeClock, protocol: Partial<typeof FAST> = {}): { rig: BleTestRig; hs: Harness[] } {
  const rig = startBleTestRig({
    devices: Array.from({ length: devices }, (_, i) => ({ name: `ble-${i}`, macAddress: `C0:FF:EE:00:01:0${i}`, protocol: { ...FAST, ...protocol } })),
  });
  cleanup.push(() => rig.close());
  // No jitter: the test knows each delay exactly.
  const factory = createBluetoothMapper({ noble: rig.adapter.noble, backoff: { initialMs: 1000, maxMs: 4000, jitter: 0 } });
  const hs = rig.devices.map((d) => connect(factory, d, rig.model, clock));
  for (const h of hs) cleanup.push(() => h.driver.close());
  return { rig, hs };
}

describe('Bluetooth resilience', () => {
  it('a device that is not advertising: BLE_NOT_FOUND per attempt, backoff between scans, then recovery', async () => {
    const clock = new FakeClock();
    const { rig, hs } = setup(1, clock);
    const [sim, h] = [rig.peripherals[0]!, hs[0]!];
    sim.stopAdvertising();

    // BLE_NOT_FOUND is the scan timeout's (150 ms) answer; the caller's deadline would give MAPPER_ABORTED.
    const first = await rejection(deadline(2000, (s) => h.driver.read(h.pick('u8'), s)));
    expect(first.code).toBe('EDGETWIN_ERR_BLE_NOT_FOUND');
    expect(h.driver.state()).toBe('offline');
    expect(rig.adapter.binding.scanning).toBe(false);

    // Within the backoff delay: the same code at once, and no new scan.
    const gated = await rejection(deadline(2000, (s) => h.driver.read(h.pick('u8'), s)));
    expect(gated.code).toBe('EDGETWIN_ERR_BLE_NOT_FOUND');
    expect(gated.message).toMatch(/next attempt in 1000 ms/);
    expect(rig.adapter.binding.scanning).toBe(false);

    // The delay doubles after each failed attempt.
    clock.advance(1000);
    expect((await rejection(deadline(2000, (s) => h.driver.read(h.pick('u8'), s)))).code).toBe('EDGETWIN_ERR_BLE_NOT_FOUND');
    clock.advance(1000);
    expect((await rejection(deadline(2000, (s) => h.driver.read(h.pick('u8'), s)))).message).toMatch(/next attempt in 1000 ms/);

    sim.resumeAdvertising();
    clock.advance(1000);
    const [r] = await deadline(2000, (s) => h.driver.read(h.pick('u8'), s));
    expect(r).toEqual({ ok: true, value: 200 });
    expect(h.driver.state()).toBe('online');
  });

  it('a refused connection: MAPPER_CONNECTION with backoff, no attempt during the delay, then recovery', async () => {
    const clock = new FakeClock();
    const { rig, hs } = setup(1, clock);
    const [sim, h] = [rig.peripherals[0]!, hs[0]!];
    sim.refuseConnections();
    expect((await rejection(deadline(2000, (s) => h.driver.read(h.pick('u8'), s)))).code).toBe('EDGETWIN_ERR_MAPPER_CONNECTION');
    const attempts = sim.stats.connectAttempts;
    expect(attempts).toBe(1);
    expect((await rejection(deadline(2000, (s) => h.driver.write(h.props.get('i8')!, 3, s)))).code).toBe('EDGETWIN_ERR_MAPPER_CONNECTION');
    expect(sim.stats.connectAttempts).toBe(attempts);

    sim.refuseConnections(false);
    clock.advance(1000);
    await deadline(2000, (s) => h.driver.write(h.props.get('i8')!, 3, s));
    expect(sim.value('i8')).toBe(3);
  });

  it('notifications come back by themselves once a refusing device accepts again', async () => {
    const { rig, hs } = setup(1);
    const [sim, h] = [rig.peripherals[0]!, hs[0]!];
    // Real clock here: the driver's own reconnect loop waits out the (short) backoff.
    const factory = createBluetoothMapper({ noble: rig.adapter.noble, backoff: { initialMs: 20, maxMs: 40, jitter: 0 } });
    await h.driver.close();
    const other = connect(factory, rig.devices[0]!, rig.model);
    cleanup.push(() => other.driver.close());
    sim.refuseConnections();
    const rec = new SinkRecorder();
    const why = rec.next('temperature', (r) => !r.ok);
    await other.driver.subscribe!(other.pick('temperature'), rec.sink);
    // The sink hears why nothing flows...
    expect(await why).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_MAPPER_CONNECTION' } });
    const enabled = nextEvent(sim, 'subscribe');
    sim.refuseConnections(false);
    await enabled;
    sim.set('temperature', -12.5);
    // ...and values once the device is back, with no call from the runtime.
    expect(await rec.value('temperature', -12.5)).toEqual({ ok: true, value: -12.5 });
  });

  it('adapter powered off: ADAPTER_UNAVAILABLE, no crash; powered on: recovers, notifications too', async () => {
    const clock = new FakeClock();
    const { rig, hs } = setup(1, clock);
    const [sim, h] = [rig.peripherals[0]!, hs[0]!];
    const rec = new SinkRecorder();
    await h.driver.subscribe!(h.pick('humidity'), rec.sink);
    expect(h.driver.state()).toBe('online');

    const off = once(rig.adapter.binding, 'stateChange');
    rig.adapter.setPowered(false);
    await off;
    expect(h.driver.state()).toBe('offline');
    expect((await rejection(deadline(2000, (s) => h.driver.read(h.pick('u8'), s)))).code).toBe('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE');

    const resubscribed = nextEvent(sim, 'subscribe');
    rig.adapter.setPowered(true);
    // Powering on clears the adapter backoff: no clock advance needed.
    await resubscribed;
    sim.set('humidity', 33.3);
    await rec.value('humidity', 33.3);
    const [r] = await deadline(2000, (s) => h.driver.read(h.pick('u8'), s));
    expect(r).toEqual({ ok: true, value: 200 });
  });

  it('several devices at once on one adapter: one shared scan, values and notifications routed by address', async () => {
    const { rig, hs } = setup(3);
    rig.peripherals.forEach((p, i) => p.set('u16le', 1000 + i));
    const results = await Promise.all(hs.map((h) => deadline(3000, (s) => h.driver.read(h.pick('u16le', 'text'), s))));
    expect(results.map((rs) => rs[0])).toEqual([0, 1, 2].map((i) => ({ ok: true, value: 1000 + i })));
    expect(rig.peripherals.map((p) => p.stats.connects)).toEqual([1, 1, 1]);
    expect(rig.adapter.binding.scanning).toBe(false);

    const recs = hs.map(() => new SinkRecorder());
    await Promise.all(hs.map((h, i) => h.driver.subscribe!(h.pick('temperature'), recs[i]!.sink)));
    rig.peripherals.forEach((p, i) => p.set('temperature', 10 + i));
    await Promise.all(recs.map((rec, i) => rec.value('temperature', 10 + i)));
    for (const [i, rec] of recs.entries()) expect(rec.received.map((r) => r.result)).toEqual([{ ok: true, value: 10 + i }]);

    // One drops: the others are untouched, and it comes back.
    const dropped = once(rig.adapter.binding, 'disconnect');
    rig.peripherals[1]!.disconnect();
    await dropped;
    expect(hs.map((h) => h.driver.state())).toEqual(['online', 'offline', 'online']);
    const [r] = await deadline(3000, (s) => hs[1]!.driver.read(hs[1]!.pick('u16le'), s));
    expect(r).toEqual({ ok: true, value: 1001 });
  });

  it('two drivers for the same device share its one connection; closing one leaves the other working', async () => {
    const rig = startBleTestRig({ devices: [{ protocol: FAST }] });
    cleanup.push(() => rig.close());
    const factory = createBluetoothMapper({ noble: rig.adapter.noble });
    const [a, b] = [connect(factory, rig.devices[0]!, rig.model), connect(factory, rig.devices[0]!, rig.model)];
    cleanup.push(() => b.driver.close());
    const recA = new SinkRecorder();
    const recB = new SinkRecorder();
    await a.driver.subscribe!(a.pick('temperature'), recA.sink);
    await b.driver.subscribe!(b.pick('temperature'), recB.sink);
    rig.peripherals[0]!.set('temperature', 1.5);
    await Promise.all([recA.value('temperature', 1.5), recB.value('temperature', 1.5)]);
    await a.driver.close();
    expect(a.driver.state()).toBe('offline');
    rig.peripherals[0]!.set('temperature', 2.5);
    await recB.value('temperature', 2.5);
    expect(await deadline(2000, (s) => b.driver.read(b.pick('u8'), s))).toEqual([{ ok: true, value: 200 }]);
    expect(rig.peripherals[0]!.stats.connects).toBe(1);
    expect(recA.received.some((r) => r.result.ok && r.result.value === 2.5)).toBe(false);
  });

  it('close() releases the link, the scan and every noble listener; later calls are coded', async () => {
    const { rig, hs } = setup(2);
    const noble = rig.adapter.noble as unknown as NodeJS.EventEmitter;
    const baseline = ['discover', 'stateChange', 'scanStop'].map((e) => noble.listenerCount(e));
    for (const h of hs) await deadline(2000, (s) => h.driver.read(h.pick('u8'), s));
    await hs[0]!.driver.subscribe!(hs[0]!.pick('temperature'), new SinkRecorder().sink);
    for (const h of hs) await h.driver.close();
    await hs[0]!.driver.close(); // idempotent
    expect(rig.peripherals.map((p) => p.connected)).toEqual([false, false]);
    expect(rig.adapter.binding.scanning).toBe(false);
    expect(['discover', 'stateChange', 'scanStop'].map((e) => noble.listenerCount(e))).toEqual(baseline);
    expect((await rejection(deadline(2000, (s) => hs[0]!.driver.read(hs[0]!.pick('u8'), s)))).code).toBe('EDGETWIN_ERR_MAPPER_ABORTED');
  });

  it('close() during a scan returns promptly', async () => {
    // A scan that would run for a minute and a read with no deadline: only close() can end
    // them, so its ending them at all is the proof, on any machine.
    const { rig, hs } = setup(1, undefined, { scanTimeoutMs: 60_000 });
    rig.peripherals[0]!.stopAdvertising();
    const h = hs[0]!;
    const pending = h.driver.read(h.pick('u8'), new AbortController().signal);
    await h.driver.close();
    expect((await rejection(pending)).code).toBe('EDGETWIN_ERR_MAPPER_ABORTED');
    expect(rig.adapter.binding.scanning).toBe(false);
  });
});
