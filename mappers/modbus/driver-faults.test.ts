// Fault cases, each ending in a documented coded error and a driver that recovers by itself:
// silence, slow replies, dropped connections, a unit that is dead for a while, refused
// connections, aborts and close() with requests in flight. No fixed sleeps: waits are on events
// or on a condition, with a timeout.

import net from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MODBUS_TEST_VALUES, startModbusTestRig, type ModbusTestRig } from '../../simulators/index.js';
import { bindDevice, type DriverProperty, type MapperContext } from '../sdk/index.js';
import { ModbusDriver, modbusMapper, type ModbusVisitorConfig } from './index.js';

const ctx: MapperContext = { logger: pino({ level: 'silent' }), now: Date.now };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TIMEOUT_MS = 150;

async function bench(timeout = TIMEOUT_MS): Promise<{ rig: ModbusTestRig; driver: ModbusDriver; props: readonly DriverProperty<ModbusVisitorConfig>[] }> {
  const rig = await startModbusTestRig({ protocol: { timeout } });
  cleanups.push(() => rig.close());
  const { driverDevice } = bindDevice(modbusMapper, rig.device, rig.model);
  const driver = modbusMapper.connect(ctx, driverDevice);
  if (!(driver instanceof ModbusDriver)) throw new Error('not a ModbusDriver');
  cleanups.push(() => driver.close());
  // Two properties in two tables: a read is two requests.
  return { rig, driver, props: driverDevice.properties.filter((p) => p.name === 'i16' || p.name === 'coil') };
}

const signal = (): AbortSignal => AbortSignal.timeout(5000);
const ok = [
  { ok: true, value: MODBUS_TEST_VALUES.i16 },
  { ok: true, value: MODBUS_TEST_VALUES.coil },
];

describe('ModbusDriver fault handling', () => {
  it('silence → EDGETWIN_ERR_MAPPER_TIMEOUT within the timeout, then a fresh link and recovery', async () => {
    const { rig, driver, props } = await bench();
    expect(await driver.read(props, signal())).toEqual(ok);
    rig.simulator.faults.silence();
    const started = performance.now();
    // A caller signal that never fires: the timeout can only be the driver's own, on any machine.
    await expect(driver.read(props, new AbortController().signal)).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_TIMEOUT' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 5); // and not early
    expect(driver.state()).toBe('offline');
    // The link was closed after the timeout (a late reply must not answer the next request).
    await vi.waitFor(() => expect(rig.server.connections).toBe(0), { timeout: 10_000 });
    rig.simulator.faults.silence(false);
    expect(await driver.read(props, signal())).toEqual(ok);
    expect(driver.state()).toBe('online');
    expect(driver.connects).toBe(2);
  });

  it('a slow reply inside the timeout is fine; one beyond it times out', async () => {
    const { rig, driver, props } = await bench();
    rig.simulator.faults.delay(20);
    expect(await driver.read(props, signal())).toEqual(ok);
    rig.simulator.faults.delay(TIMEOUT_MS * 3);
    await expect(driver.read(props, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_TIMEOUT' });
    rig.simulator.faults.delay(0);
    expect(await driver.read(props, signal())).toEqual(ok);
  });

  it('a connection dropped mid-request → EDGETWIN_ERR_MAPPER_CONNECTION at once, then reconnects', async () => {
    const { rig, driver, props } = await bench(60_000);
    expect(await driver.read(props, signal())).toEqual(ok);
    rig.simulator.faults.dropNext();
    // The close itself fails the request: the driver's timeout (60 s) or the caller's 5 s signal
    // would both be MAPPER_TIMEOUT.
    await expect(driver.read(props, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONNECTION' });
    expect(driver.state()).toBe('offline');
    expect(await driver.read(props, signal())).toEqual(ok);
    expect(driver.connects).toBe(2);
  });

  it('a connection dropped while idle is replaced transparently on the next read', async () => {
    const { rig, driver, props } = await bench();
    expect(await driver.read(props, signal())).toEqual(ok);
    expect(rig.server.dropConnections()).toBe(1);
    await vi.waitFor(() => expect(rig.server.connections).toBe(0), { timeout: 10_000 });
    expect(await driver.read(props, signal())).toEqual(ok);
    expect(driver.connects).toBe(2);
  });

  it('a drop after part of a batch was read returns what was read and codes the rest', async () => {
    const { rig, driver, props } = await bench();
    let requests = 0;
    // 'request' fires before faults apply, so this drops the second request of the batch.
    rig.simulator.on('request', () => {
      if (++requests === 2) rig.simulator.faults.dropNext();
    });
    const results = await driver.read(props, signal());
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ error: { code: 'EDGETWIN_ERR_MAPPER_CONNECTION' } });
  });

  it('a unit dead for a while times out, then comes back by itself', async () => {
    const { rig, driver, props } = await bench();
    rig.simulator.faults.deadFor(600);
    await expect(driver.read(props, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_TIMEOUT' });
    // What the runtime's retry loop does: try again until the unit answers.
    let attempts = 1;
    await vi.waitFor(
      async () => {
        attempts++;
        expect(await driver.read(props, signal())).toEqual(ok);
      },
      { timeout: 5000, interval: 50 },
    );
    expect(attempts).toBeGreaterThan(1);
    expect(driver.state()).toBe('online');
  });

  it('connection refused → EDGETWIN_ERR_MAPPER_CONNECTION, and it connects once the device is up', async () => {
    // A port that was free a moment ago: nothing listens there now.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const rig = await startModbusTestRig({ protocol: { port: String(port), timeout: 500 } });
    cleanups.push(() => rig.close());
    const { driverDevice } = bindDevice(modbusMapper, rig.device, rig.model);
    const driver = modbusMapper.connect(ctx, driverDevice);
    cleanups.push(() => driver.close());
    const [prop] = driverDevice.properties;
    await expect(driver.read([prop!], signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONNECTION', message: expect.stringContaining('ECONNREFUSED') });
    expect(driver.state()).toBe('offline');
    await expect(driver.write(prop!, 1, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONNECTION' });
  });

  it('an aborted signal rejects at once with EDGETWIN_ERR_MAPPER_ABORTED; the next call works', async () => {
    const { rig, driver, props } = await bench(5000);
    rig.simulator.faults.delay(3000);
    const controller = new AbortController();
    const pending = driver.read(props, controller.signal);
    await new Promise((resolve) => rig.simulator.once('request', resolve));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_ABORTED' });
    await expect(driver.read(props, AbortSignal.abort())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_ABORTED' });
    // AbortSignal.timeout() reads as a timeout, not a cancellation.
    await expect(driver.read(props, AbortSignal.timeout(20))).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_TIMEOUT' });
    rig.simulator.faults.delay(0);
    expect(await driver.read(props, signal())).toEqual(ok);
  });

  it('a call still waiting for its turn can be aborted without disturbing the one in flight', async () => {
    const { rig, driver, props } = await bench(5000);
    rig.simulator.faults.delay(200);
    const first = driver.read(props, signal());
    const controller = new AbortController();
    const queued = driver.read(props, controller.signal);
    await new Promise((resolve) => rig.simulator.once('request', resolve));
    controller.abort();
    await expect(queued).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_ABORTED' });
    expect(await first).toEqual(ok);
    expect(driver.connects).toBe(1);
  });

  it('close() fails requests in flight and queued, never leaves one hanging, and is idempotent', async () => {
    const { rig, driver, props } = await bench(5000);
    rig.simulator.faults.silence();
    const first = driver.read(props, signal());
    const second = driver.read(props, signal());
    await new Promise((resolve) => rig.simulator.once('request', resolve));
    await driver.close();
    await expect(first).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONNECTION' });
    await expect(second).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONNECTION' });
    await driver.close();
    await expect(driver.read(props, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONNECTION' });
    await vi.waitFor(() => expect(rig.server.connections).toBe(0), { timeout: 10_000 });
  });
});
