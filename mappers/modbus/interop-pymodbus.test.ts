// Interop with a peer no one here wrote: the driver reads and writes a pymodbus 3.0 server
// (Debian python3-pymodbus, run with /usr/bin/python3). Its register map has a hole, so a
// coalesced read meets a real illegal-data-address exception and must split around it.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel, parseDeviceManifest } from '../../schemas/index.js';
import { bindDevice, type DeviceDriver, type DriverProperty } from '../sdk/index.js';
import { requirePeer } from '../../test/peers.js';
import { modbusMapper } from './index.js';

const PYTHON = '/usr/bin/python3';
const SERVER = fileURLToPath(new URL('../../simulators/modbus/pymodbus_server.py', import.meta.url));
const hasPymodbus = requirePeer('pymodbus');

// Holding registers 0..4 and 30..33 exist; 5..29 do not.
const REGISTERS = {
  unit: 5,
  hr: { '0': [0x41ac, 0x0000, 0x6865, 0x6174, 0xfffe], '30': [0, 1, 2, 3] },
  ir: { '0': [0x4228, 0x0000] },
  co: { '0': [1, 0, 1] },
  di: { '0': [1] },
};

const MODEL = compileModel({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'pymodbus-peer',
  type: 'object',
  properties: {
    setpoint: { type: 'number' },
    mode: { type: 'string' },
    offset: { type: 'integer' },
    hole: { type: 'integer' },
    counter: { type: 'integer' },
    temperature: { type: 'number', readOnly: true },
    power: { type: 'boolean' },
    relays: { type: 'integer' },
    door: { type: 'boolean', readOnly: true },
    w0: { type: 'integer', readOnly: true },
    w1: { type: 'integer', readOnly: true },
  },
});

const VISITORS: Record<string, Record<string, string | number | boolean>> = {
  setpoint: { register: 'HoldingRegister', offset: 0, limit: 2, dataType: 'float' },
  mode: { register: 'HoldingRegister', offset: 2, limit: 2, dataType: 'string' },
  offset: { register: 'HoldingRegister', offset: 4, limit: 1, dataType: 'int' },
  hole: { register: 'HoldingRegister', offset: 10, limit: 1, dataType: 'uint16' },
  counter: { register: 'HoldingRegister', offset: 30, limit: 4, dataType: 'int64' },
  temperature: { register: 'InputRegister', offset: 0, limit: 2, dataType: 'float' },
  power: { register: 'CoilRegister', offset: 0, limit: 1, dataType: 'boolean' },
  relays: { register: 'CoilRegister', offset: 0, limit: 3, dataType: 'uint' },
  door: { register: 'DiscreteInputRegister', offset: 0, limit: 1, dataType: 'boolean' },
  w0: { register: 'HoldingRegister', offset: 0, limit: 1, dataType: 'uint16' },
  w1: { register: 'HoldingRegister', offset: 1, limit: 1, dataType: 'uint16' },
};

describe.skipIf(!hasPymodbus)('ModbusDriver ⇄ pymodbus server', () => {
  let child: ChildProcessWithoutNullStreams;
  let driver: DeviceDriver;
  let props: readonly DriverProperty[];
  const prop = (name: string): DriverProperty => props.find((p) => p.name === name)!;
  const signal = (): AbortSignal => AbortSignal.timeout(30_000);
  const read = async (...names: string[]): Promise<unknown[]> =>
    (await driver.read(names.map(prop), signal())).map((r) => (r.ok ? r.value : r.error.code));

  beforeAll(async () => {
    child = spawn(PYTHON, [SERVER, JSON.stringify(REGISTERS)], { stdio: 'pipe' });
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pymodbus did not start: ${out}`)), 10_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /PORT (\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`pymodbus exited with ${code}: ${out}`)));
    });
    const manifest = {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: 'pymodbus-peer' },
      spec: {
        deviceModelRef: { name: 'pymodbus-peer' },
        protocol: { protocolName: 'modbus', configData: { communicateMode: 'TCP', ip: '127.0.0.1', port: String(port), slaveID: 5, timeout: 10_000 } },
        properties: Object.entries(VISITORS).map(([name, configData]) => ({ name, visitors: { protocolName: 'modbus', configData } })),
      },
    };
    const device = parseDeviceManifest(manifest, new Map([[MODEL.name, MODEL]]));
    const bound = bindDevice(modbusMapper, device, MODEL);
    props = bound.driverDevice.properties;
    driver = modbusMapper.connect({ logger: pino({ level: 'silent' }), now: Date.now }, bound.driverDevice);
  });
  afterAll(async () => {
    await driver?.close();
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.stdin.end(); // the server stops when its stdin closes
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  });

  it('reads every table; the hole fails alone after a real exception 02 split', async () => {
    const all = Object.keys(VISITORS);
    expect(await read(...all)).toEqual([21.5, 'heat', -2, 'EDGETWIN_ERR_MODBUS_EXCEPTION', 0x0000000100020003, 42, true, 5, true, 0x41ac, 0]);
    const [hole] = await driver.read([prop('hole')], signal());
    expect(hole).toMatchObject({ ok: false, error: { message: expect.stringContaining('illegal data address (2)') } });
  });

  it('writes with FC16, FC6, FC5 and FC15, and pymodbus stores what the codec says', async () => {
    await driver.write(prop('setpoint'), 22.5, signal());
    expect(await read('w0', 'w1', 'setpoint')).toEqual([0x41b4, 0, 22.5]);
    await driver.write(prop('offset'), -300, signal());
    await driver.write(prop('mode'), 'cool', signal());
    await driver.write(prop('counter'), -1, signal());
    expect(await read('offset', 'mode', 'counter')).toEqual([-300, 'cool', -1]);
    await driver.write(prop('power'), false, signal());
    expect(await read('relays')).toEqual([4]);
    await driver.write(prop('relays'), 3, signal());
    expect(await read('power', 'relays')).toEqual([true, 3]);
  });

  it('a write to a register pymodbus lacks is exception 02, coded', async () => {
    await expect(driver.write(prop('hole'), 1, signal())).rejects.toMatchObject({
      code: 'EDGETWIN_ERR_MODBUS_EXCEPTION',
      message: expect.stringContaining('illegal data address (2)'),
    });
  });
});
