import { nextEvent } from '../../test/async.js';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { modbusMapper } from '../../mappers/modbus/index.js';
import { bindDevice } from '../../mappers/sdk/index.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels, type DeviceInstance, type DeviceModel } from '../../schemas/index.js';
import { simulateModbus } from './cli.js';
import { MODBUS_TEST_VALUES, modbusTestDevice, modbusTestModel } from './fixtures.js';
import { execute, parseRequest, RegisterBank } from './pdu.js';
import { ModbusSimulator } from './simulator.js';
import { ModbusTcpServer } from './tcp-server.js';

const THERMOSTAT = fileURLToPath(new URL('../../examples/devices/thermostat.yaml', import.meta.url));
const ctx = { logger: pino({ level: 'silent' }), now: Date.now };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function thermostat(): { device: DeviceInstance; model: DeviceModel } {
  const { models } = loadModels([BUNDLED_MODELS_DIR]);
  const { devices, errors } = loadDevices([THERMOSTAT], models);
  expect(errors).toEqual([]);
  const device = devices[0]!;
  return { device, model: models.get(device.model)! };
}

const pdu = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);

describe('PDU handling (Modbus Application Protocol v1.1b3 §6-7)', () => {
  it.each([
    ['FC3 with 126 registers', pdu(3, 0, 0, 0, 126), 3],
    ['FC3 with 0 registers', pdu(3, 0, 0, 0, 0), 3],
    ['FC1 with 2001 coils', pdu(1, 0, 0, 0x07, 0xd1), 3],
    ['FC4 past address 65535', pdu(4, 0xff, 0xff, 0, 2), 2],
    ['FC5 with 0x1234', pdu(5, 0, 0, 0x12, 0x34), 3],
    ['FC16 with a wrong byte count', pdu(16, 0, 0, 0, 2, 3, 0, 1, 0, 2), 3],
    ['FC7 (unsupported)', pdu(7), 1],
    ['a truncated FC3', pdu(3, 0, 0), 3],
  ])('%s → exception %i', (_name, request, code) => {
    expect(parseRequest(request)).toMatchObject({ ok: false, exception: code });
  });

  it('reads and writes every table', () => {
    const bank = new RegisterBank();
    const run = (...bytes: number[]): number[] => {
      const parsed = parseRequest(pdu(...bytes));
      if (!parsed.ok) throw new Error(`exception ${parsed.exception}`);
      return [...execute(bank, parsed.request)];
    };
    expect(run(16, 0, 10, 0, 2, 4, 0x12, 0x34, 0x56, 0x78)).toEqual([16, 0, 10, 0, 2]);
    expect(run(3, 0, 10, 0, 2)).toEqual([3, 4, 0x12, 0x34, 0x56, 0x78]);
    expect(run(6, 0, 11, 0xab, 0xcd)).toEqual([6, 0, 11, 0xab, 0xcd]);
    expect(run(15, 0, 3, 0, 10, 2, 0b00000101, 0b10)).toEqual([15, 0, 3, 0, 10]);
    expect(run(1, 0, 0, 0, 13)).toEqual([1, 2, 0b00101000, 0b00010000]);
    expect(run(5, 0, 0, 0xff, 0)).toEqual([5, 0, 0, 0xff, 0]);
    expect(run(1, 0, 0, 0, 1)).toEqual([1, 1, 1]);
    bank.inputRegisters[7] = 0xbeef;
    bank.discreteInputs[9] = 1;
    expect(run(4, 0, 7, 0, 1)).toEqual([4, 2, 0xbe, 0xef]);
    expect(run(2, 0, 8, 0, 2)).toEqual([2, 1, 0b10]);
  });
});

describe('ModbusSimulator', () => {
  it('starts from the manifest: desired values, then defaults; read-only values at the midpoint', () => {
    const { device, model } = thermostat();
    const sim = new ModbusSimulator({ device, model, evolveEveryMs: 0 });
    expect(sim.unitId).toBe(1);
    expect(sim.values()).toEqual({ temperature: 42.5, setpoint: 21, mode: 'heat', power: true });
    // The registers hold exactly what the codec makes of the visitor config.
    expect([...sim.bank.holdingRegisters.subarray(0, 4)]).toEqual([0x41a8, 0, 0x6865, 0x6174]);
    expect(sim.bank.coils[0]).toBe(1);
  });

  it('walks read-only values within [minimum, maximum], the same way for the same seed', () => {
    const model = modbusTestModel();
    const device = modbusTestDevice(model);
    const walk = (seed: number): number[] => {
      const sim = new ModbusSimulator({ device, model, seed, evolveEveryMs: 0, stepFraction: 0.2 });
      return Array.from({ length: 500 }, () => {
        sim.step();
        return sim.get('ir') as number;
      });
    };
    const a = walk(7);
    expect(walk(7)).toEqual(a);
    expect(walk(8)).not.toEqual(a);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(100);
    expect(new Set(a).size).toBeGreaterThan(50);
  });

  it('evolves on its timer and reports each change; stop() ends it', async () => {
    const { device, model } = thermostat();
    const sim = new ModbusSimulator({ device, model, evolveEveryMs: 5 });
    cleanups.push(() => sim.stop());
    sim.start();
    const [change] = await nextEvent(sim, 'change', { signal: AbortSignal.timeout(2000) });
    expect(change).toMatchObject({ property: 'temperature', source: 'evolve' });
  });

  it('set() writes through the codec; a value that does not fit is a coded error', () => {
    const model = modbusTestModel();
    const sim = new ModbusSimulator({ device: modbusTestDevice(model), model, evolveEveryMs: 0, initial: MODBUS_TEST_VALUES });
    expect(sim.values()).toEqual(MODBUS_TEST_VALUES);
    sim.set('scaled', 30.1);
    expect(sim.bank.holdingRegisters[20]).toBe(301);
    expect(() => sim.set('i16', 1e6)).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_MODBUS_VALUE_RANGE' }));
    expect(() => sim.get('nope')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_PROPERTY_UNKNOWN' }));
  });
});

describe('ModbusTcpServer', () => {
  it('routes by unit id as a gateway; an unknown unit is exception 0x0B', async () => {
    const model = modbusTestModel();
    const one = new ModbusSimulator({ device: modbusTestDevice(model), model, evolveEveryMs: 0, initial: MODBUS_TEST_VALUES });
    const two = new ModbusSimulator({ device: modbusTestDevice(model, { protocol: { slaveID: 2 } }), model, evolveEveryMs: 0, initial: { ...MODBUS_TEST_VALUES, i16: 2 } });
    const server = new ModbusTcpServer({ units: [one, two] });
    cleanups.push(() => server.close());
    const { port } = await server.start();
    const read = async (slaveID: number): Promise<unknown> => {
      const { driverDevice } = bindDevice(modbusMapper, modbusTestDevice(model, { protocol: { port, slaveID } }), model);
      const driver = modbusMapper.connect(ctx, driverDevice);
      try {
        const [result] = await driver.read(driverDevice.properties.filter((p) => p.name === 'i16'), AbortSignal.timeout(2000));
        return result;
      } finally {
        await driver.close();
      }
    };
    expect(await read(1)).toEqual({ ok: true, value: MODBUS_TEST_VALUES.i16 });
    expect(await read(2)).toEqual({ ok: true, value: 2 });
    expect(await read(9)).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_MODBUS_EXCEPTION', message: expect.stringContaining('gateway target device failed to respond (11)') } });
    expect(() => new ModbusTcpServer({ units: [one, one] })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_MAPPER_CONFIG' }));
  });
});

describe('simulateModbus (the `edgetwin simulate modbus` command)', () => {
  it('simulates the example thermostat; the mapper reads it and its writes arrive', async () => {
    const sim = await simulateModbus({ device: THERMOSTAT, port: 0, evolveEveryMs: 0 });
    cleanups.push(() => sim.close());
    expect(sim.description).toBe(`Modbus TCP simulator on 127.0.0.1:${sim.port}\n  unit 1: default/thermostat (temperature, setpoint, mode, power)`);
    const { device, model } = thermostat();
    const pointed = { ...device, protocol: { protocolName: 'modbus', configData: { ...device.protocol!.configData, port: sim.port } } };
    const { driverDevice } = bindDevice(modbusMapper, pointed, model);
    const driver = modbusMapper.connect(ctx, driverDevice);
    cleanups.push(() => driver.close());
    const results = await driver.read(driverDevice.properties, AbortSignal.timeout(2000));
    expect(results).toEqual([
      { ok: true, value: 42.5 },
      { ok: true, value: 21 },
      { ok: true, value: 'heat' },
      { ok: true, value: true },
    ]);
    const written = nextEvent(sim.simulators[0]!, 'write', { signal: AbortSignal.timeout(2000) });
    await driver.write(driverDevice.properties[1]!, 22.5, AbortSignal.timeout(2000));
    expect((await written)[0]).toEqual({ property: 'setpoint', value: 22.5, fc: 16 });
  });

  it('says what is wrong with the file, as a coded error', async () => {
    const missing = simulateModbus({ device: '/nonexistent/device.yaml', port: 0 });
    await expect(missing).rejects.toMatchObject({ code: 'EDGETWIN_ERR_FILE_READ' });
    const external = fileURLToPath(new URL('../../examples/devices/power-meter.yaml', import.meta.url));
    await expect(simulateModbus({ device: external, port: 0 })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MAPPER_CONFIG' });
  });
});
