// The driver in RTU mode (connectRTUBuffered on a real serial port) against the RTU simulator,
// through a socat pty pair: reads, writes, a corrupted CRC and a silent unit, each recovered.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePeer } from '../../test/peers.js';
import { MODBUS_TEST_VALUES, ModbusRtuServer, ModbusSimulator, modbusTestDevice, modbusTestModel, openPtyPair, type PtyPair } from '../../simulators/index.js';
import { bindDevice, type DeviceDriver, type DriverProperty } from '../sdk/index.js';
import { ModbusDriver, modbusMapper } from './index.js';

describe.skipIf(!requirePeer('socat'))('ModbusDriver over RTU (socat pty pair)', () => {
  let dir: string;
  let pair: PtyPair;
  let sim: ModbusSimulator;
  let server: ModbusRtuServer;
  let driver: DeviceDriver;
  let props: readonly DriverProperty[];
  const signal = (): AbortSignal => AbortSignal.timeout(5000);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgetwin-rtu-'));
    pair = await openPtyPair(dir);
    const model = modbusTestModel();
    sim = new ModbusSimulator({ device: modbusTestDevice(model, { protocol: { slaveID: 3 } }), model, evolveEveryMs: 0, initial: MODBUS_TEST_VALUES });
    server = new ModbusRtuServer({ units: sim, path: pair.a, baudRate: 38400, parity: 'none' });
    await server.start();
    const device = modbusTestDevice(model, {
      protocol: { communicateMode: 'RTU', serialName: pair.b, baudRate: 38400, parity: 'none', slaveID: 3, timeout: 300 },
    });
    const bound = bindDevice(modbusMapper, device, model);
    props = bound.driverDevice.properties;
    driver = modbusMapper.connect({ logger: pino({ level: 'silent' }), now: Date.now }, bound.driverDevice);
  });
  afterAll(async () => {
    await driver?.close();
    await server?.close();
    await pair?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ok = (): Promise<void> =>
    driver.read(props, signal()).then((results) => {
      expect(Object.fromEntries(props.map((p, i) => [p.name, results[i]!.ok ? results[i]!.value : results[i]]))).toEqual(MODBUS_TEST_VALUES);
    });

  it('reads every type, coalesced', async () => {
    sim.resetStats();
    await ok();
    expect(sim.stats.requests).toBe(4);
  });

  it('writes with FC5, FC6, FC15 and FC16', async () => {
    const prop = (name: string): DriverProperty => props.find((p) => p.name === name)!;
    await driver.write(prop('coil'), false, signal());
    await driver.write(prop('u16'), 12345, signal());
    await driver.write(prop('coils'), 3, signal());
    await driver.write(prop('f64'), 2.5, signal());
    expect(sim.values()).toMatchObject({ coil: false, u16: 12345, coils: 3, f64: 2.5 });
    expect(sim.stats.byFc).toMatchObject({ 5: 1, 6: 1, 15: 1, 16: 1 });
    for (const [name, value] of Object.entries({ coil: true, u16: MODBUS_TEST_VALUES.u16, coils: MODBUS_TEST_VALUES.coils, f64: MODBUS_TEST_VALUES.f64 })) {
      await driver.write(prop(name), value, signal());
    }
  });

  it('a corrupted CRC → EDGETWIN_ERR_MODBUS_CRC for that request; the next read is clean', async () => {
    sim.faults.corruptCrc(1);
    const results = await driver.read(props, signal());
    // One of the four coalesced requests was hit; its properties fail, the others are read.
    const bad = results.filter((r) => !r.ok);
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.length).toBeLessThan(props.length);
    expect(bad.every((r) => !r.ok && r.error.code === 'EDGETWIN_ERR_MODBUS_CRC')).toBe(true);
    sim.faults.corruptCrc(1);
    await expect(driver.read(props.slice(0, 1), signal())).resolves.toMatchObject([{ ok: false, error: { code: 'EDGETWIN_ERR_MODBUS_CRC' } }]);
    expect(driver.state()).toBe('unhealthy');
    await ok();
    expect(driver.state()).toBe('online');
  });

  it('a silent unit → EDGETWIN_ERR_MAPPER_TIMEOUT; the port is reopened and reads resume', async () => {
    sim.faults.silence();
    await expect(driver.read(props, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_TIMEOUT' });
    sim.faults.silence(false);
    await ok();
    expect((driver as ModbusDriver).connects).toBe(2);
  });
});
