// The driver against the simulator over real TCP on port 0: every type read and written, every
// write function code, coalescing observed from the device's side, and the split on exception 02.

import { nextEvent } from '../../test/async.js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../../errors.js';
import { MODBUS_TEST_VALUES, modbusTestDevice, modbusTestModel, startModbusTestRig, type ModbusTestDeviceOptions, type ModbusTestRig } from '../../simulators/index.js';
import type { PropertyValue } from '../../schemas/index.js';
import { bindDevice, type DeviceDriver, type DriverProperty, type MapperContext, type ReadResult } from '../sdk/index.js';
import { ModbusDriver, modbusMapper, type ModbusVisitorConfig } from './index.js';

const ctx: MapperContext = { logger: pino({ level: 'silent' }), now: Date.now };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Bench {
  readonly rig: ModbusTestRig;
  readonly driver: ModbusDriver;
  readonly props: readonly DriverProperty<ModbusVisitorConfig>[];
  readonly prop: (name: string) => DriverProperty<ModbusVisitorConfig>;
}

async function bench(options: ModbusTestDeviceOptions = {}): Promise<Bench> {
  const rig = await startModbusTestRig(options);
  cleanups.push(() => rig.close());
  const { driverDevice } = bindDevice(modbusMapper, rig.device, rig.model);
  const driver: DeviceDriver = modbusMapper.connect(ctx, driverDevice);
  if (!(driver instanceof ModbusDriver)) throw new Error('not a ModbusDriver');
  cleanups.push(() => driver.close());
  const props = driverDevice.properties;
  return { rig, driver, props, prop: (name) => props.find((p) => p.name === name)! };
}

const signal = (): AbortSignal => AbortSignal.timeout(5000);

function valueOf(result: ReadResult | undefined): PropertyValue {
  if (!result?.ok) throw new Error(`not a value: ${JSON.stringify(result)}`);
  return result.value;
}

describe('ModbusDriver over TCP against the simulator', () => {
  it('connects lazily and reads every type in one batch, in order', async () => {
    const { driver, props, rig } = await bench();
    expect(driver.state()).toBe('unknown');
    expect(rig.server.connections).toBe(0);
    const results = await driver.read(props, signal());
    const values = Object.fromEntries(props.map((p, i) => [p.name, valueOf(results[i])]));
    expect(values).toEqual(MODBUS_TEST_VALUES);
    expect(driver.state()).toBe('online');
    // Every value is what the model accepts, as the runtime will check.
    props.forEach((p, i) => expect(p.model.check(valueOf(results[i])).ok, p.name).toBe(true));
  });

  it('coalesces: 17 properties in 4 tables are 4 requests, not 17', async () => {
    const { driver, props, rig } = await bench();
    const seen: number[] = [];
    rig.simulator.on('request', (r) => seen.push(r.fc));
    await driver.read(props, signal());
    expect(rig.simulator.stats.requests).toBe(4);
    expect(seen.sort()).toEqual([1, 2, 3, 4]);
    expect(driver.requests).toBe(4);
    // One property at a time would have cost one request each.
    rig.simulator.resetStats();
    for (const p of props) await driver.read([p], signal());
    expect(rig.simulator.stats.requests).toBe(props.length);
  });

  it('honours maxRegistersPerRequest and maxGap from the protocol config', async () => {
    const { driver, props, rig } = await bench({ protocol: { maxRegistersPerRequest: 4, maxGap: 0 } });
    await driver.read(props, signal());
    // Holding 0..27 in runs of at most 4 registers, never splitting a value: 9 requests; plus
    // coils (0 and 1..10 touch, so one), discrete inputs, input registers.
    expect(rig.simulator.stats.byFc).toEqual({ 1: 1, 2: 1, 3: 9, 4: 1 });
  });

  it.each([
    ['coil', false, 5],
    ['coils', 0b0101011010, 15],
    ['i16', 999, 6],
    ['u16', 1, 6],
    ['scaled', 0.3, 6],
    ['flag', false, 6],
    ['f32', -12.5, 16],
    ['i64', 1234567890123, 16],
    ['text', 'cool', 16],
    ['raw', new Uint8Array([1, 2, 3, 4]), 16],
  ] as const)('writes %s = %s with FC%i, and the simulator sees the value', async (name, value, fc) => {
    const { driver, prop, rig } = await bench();
    const written = nextEvent(rig.simulator, 'write', { signal: AbortSignal.timeout(2000) });
    await driver.write(prop(name), value, signal());
    const [event] = await written;
    expect(event).toEqual({ property: name, value, fc });
    expect(rig.simulator.get(name)).toEqual(value);
    const [readBack] = await driver.read([prop(name)], signal());
    expect(readBack).toEqual({ ok: true, value });
  });

  it('refuses to write discrete inputs and input registers without touching the wire', async () => {
    const { driver, prop, rig } = await bench();
    for (const name of ['di', 'ir']) {
      await expect(driver.write(prop(name), 1, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_PROPERTY_NOT_WRITABLE' });
    }
    expect(rig.simulator.stats.requests).toBe(0);
    expect(rig.server.connections).toBe(0);
  });

  it('a value out of range for its register is a coded error, before the wire', async () => {
    const { driver, prop, rig } = await bench();
    await expect(driver.write(prop('i16'), 40000, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MODBUS_VALUE_RANGE' });
    await expect(driver.write(prop('text'), 'much too long', signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MODBUS_VALUE_RANGE' });
    expect(rig.simulator.stats.requests).toBe(0);
  });

  it('splits a request that hits an illegal address, and remembers the split', async () => {
    const { driver, props, rig } = await bench();
    rig.simulator.faults.exceptionAt(5, 2, { table: 'HoldingRegister' }); // inside u32 (4..5)
    const results = await driver.read(props, signal());
    const failed = props.filter((_, i) => !results[i]!.ok).map((p) => p.name);
    expect(failed).toEqual(['u32']);
    const error = results[props.findIndex((p) => p.name === 'u32')] as { error: { code: string; message: string } };
    expect(error.error.code).toBe('EDGETWIN_ERR_MODBUS_EXCEPTION');
    expect(error.error.message).toContain('illegal data address (2)');
    expect(driver.state()).toBe('online');
    const firstCycle = rig.simulator.stats.byFc[3]!;
    expect(firstCycle).toBeGreaterThan(1);
    expect(firstCycle).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(12)));
    // The next poll goes straight to the requests that work (plus the bad one alone).
    rig.simulator.resetStats();
    const again = await driver.read(props, signal());
    expect(again.filter((r) => !r.ok)).toHaveLength(1);
    expect(rig.simulator.stats.byFc[3]).toBeLessThan(firstCycle);
  });

  it('reports other exceptions per property, with the exception named', async () => {
    const { driver, prop, rig } = await bench();
    rig.simulator.faults.exceptionAt(0, 4, { table: 'CoilRegister' });
    const [coil, i16] = await driver.read([prop('coil'), prop('i16')], signal());
    expect(coil).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_MODBUS_EXCEPTION' } });
    expect((coil as { error: Error }).error.message).toMatch(/^Modbus exception reading CoilRegister 0 \(FC1\) from unit 1: server device failure \(4\)$/);
    expect(i16).toEqual({ ok: true, value: MODBUS_TEST_VALUES.i16 });
    await expect(driver.write(prop('coil'), true, signal())).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MODBUS_EXCEPTION' });
  });

  it('a bad visitor fails its own property, not the batch', async () => {
    const { driver, props } = await bench();
    const broken: DriverProperty<ModbusVisitorConfig> = { ...props[0]!, name: 'broken', visitor: { register: 'HoldingRegister', offset: 0, limit: 3, dataType: 'float' } };
    const [bad, good] = await driver.read([broken, props[0]!], signal());
    expect(bad).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_MAPPER_CONFIG' } });
    expect(good).toEqual({ ok: true, value: MODBUS_TEST_VALUES.i16 });
  });

  it('serialises concurrent calls on one connection', async () => {
    const { driver, props, prop, rig } = await bench();
    let outstanding = 0;
    let most = 0;
    rig.simulator.on('request', () => {
      outstanding++;
      most = Math.max(most, outstanding);
      setImmediate(() => outstanding--);
    });
    rig.simulator.faults.delay(2);
    const calls = Array.from({ length: 10 }, (_, i) => (i % 2 ? driver.read(props, signal()) : driver.write(prop('u16'), i, signal())));
    const results = await Promise.all(calls);
    expect(results.filter((r) => Array.isArray(r) && r.some((x) => !x.ok))).toEqual([]);
    expect(most).toBe(1);
    expect(rig.server.connections).toBe(1);
  });

  it('rejects a bad protocol config at connect, with every problem listed', () => {
    const model = modbusTestModel();
    const rigless = { model, instance: modbusTestDevice(model) };
    const device = { id: 'x', instance: rigless.instance, model: rigless.model, protocol: { ip: 'h', slaveId: 1 }, properties: [] };
    try {
      modbusMapper.connect(ctx, device);
      expect.unreachable();
    } catch (err) {
      expect(isEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG')).toBe(true);
      expect((err as Error).message).toContain('slaveId');
    }
  });
});
