// A "every kind of register" device: a model and a Device manifest covering each table, each
// dataType, scale and both swaps. Used by the Modbus tests and available to the mapper
// conformance suite, so the whole codec is exercised end to end over real sockets.

import { compileModel, parseDeviceManifest, type DeviceInstance, type DeviceModel } from '../../schemas/index.js';
import { ModbusSimulator } from './simulator.js';
import { ModbusTcpServer } from './tcp-server.js';

export const MODBUS_TEST_MODEL_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'modbus-test-device',
  type: 'object',
  properties: {
    i16: { type: 'integer', minimum: -1000, maximum: 1000 },
    u16: { type: 'integer' },
    i32: { type: 'integer' },
    u32: { type: 'integer' },
    i64: { type: 'integer' },
    u64: { type: 'integer' },
    f32: { type: 'number', minimum: -100, maximum: 100 },
    f64: { type: 'number', format: 'double' },
    scaled: { type: 'number', minimum: 0, maximum: 50, unit: 'Celsius' },
    text: { type: 'string', maxLength: 8 },
    raw: { type: 'string', contentEncoding: 'base64' },
    flag: { type: 'boolean' },
    coil: { type: 'boolean' },
    coils: { type: 'integer', minimum: 0, maximum: 1023 },
    di: { type: 'boolean', readOnly: true },
    ir: { type: 'number', minimum: 0, maximum: 100, readOnly: true },
    ir16: { type: 'integer', minimum: -50, maximum: 50, readOnly: true },
    /** Not in the default manifest: for bulk reads of any size (measure.ts). */
    bulk: { type: 'string', contentEncoding: 'base64', readOnly: true },
  },
  additionalProperties: false,
} as const;

type Visitor = Record<string, string | number | boolean>;

/** Property name → visitor configData (KubeEdge keys). Holding registers 0..27 are contiguous. */
export const MODBUS_TEST_VISITORS: Readonly<Record<string, Visitor>> = {
  i16: { register: 'HoldingRegister', offset: 0, limit: 1, dataType: 'int16' },
  u16: { register: 'HoldingRegister', offset: 1, limit: 1, dataType: 'uint16' },
  i32: { register: 'HoldingRegister', offset: 2, limit: 2, dataType: 'int', isRegisterSwap: true },
  u32: { register: 'HoldingRegister', offset: 4, limit: 2, dataType: 'uint32', isSwap: true },
  i64: { register: 'HoldingRegister', offset: 6, limit: 4, dataType: 'int64' },
  u64: { register: 'HoldingRegister', offset: 10, limit: 4, dataType: 'uint64', isSwap: true, isRegisterSwap: true },
  f32: { register: 'HoldingRegister', offset: 14, limit: 2, dataType: 'float' },
  f64: { register: 'HoldingRegister', offset: 16, limit: 4, dataType: 'double' },
  scaled: { register: 'HoldingRegister', offset: 20, limit: 1, dataType: 'int', scale: 0.1 },
  text: { register: 'HoldingRegister', offset: 21, limit: 4, dataType: 'string' },
  raw: { register: 'HoldingRegister', offset: 25, limit: 2, dataType: 'bytes' },
  flag: { register: 'HoldingRegister', offset: 27, limit: 1, dataType: 'boolean' },
  coil: { register: 'CoilRegister', offset: 0, limit: 1, dataType: 'boolean' },
  coils: { register: 'CoilRegister', offset: 1, limit: 10, dataType: 'uint' },
  di: { register: 'DiscreteInputRegister', offset: 0, limit: 1, dataType: 'boolean' },
  ir: { register: 'InputRegister', offset: 0, limit: 2, dataType: 'float', isSwap: true },
  ir16: { register: 'InputRegister', offset: 2, limit: 1, dataType: 'int16' },
};

export interface ModbusTestDeviceOptions {
  readonly name?: string;
  readonly protocol?: Visitor;
  /** Override or add visitors (e.g. to point one property at a missing register). */
  readonly visitors?: Readonly<Record<string, Visitor>>;
}

/** The test model, compiled. */
export function modbusTestModel(): DeviceModel {
  return compileModel(MODBUS_TEST_MODEL_SCHEMA, 'modbus-test-device (fixture)');
}

/** A Device manifest for the test model, loaded as edgetwin loads any manifest. */
export function modbusTestDevice(model: DeviceModel, options: ModbusTestDeviceOptions = {}): DeviceInstance {
  const visitors = { ...MODBUS_TEST_VISITORS, ...options.visitors };
  const manifest = {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name: options.name ?? 'modbus-test', namespace: 'default' },
    spec: {
      deviceModelRef: { name: model.name },
      protocol: {
        protocolName: 'modbus',
        configData: { communicateMode: 'TCP', ip: '127.0.0.1', port: '502', slaveID: 1, ...options.protocol },
      },
      properties: Object.entries(visitors).map(([name, configData]) => ({ name, visitors: { protocolName: 'modbus', configData } })),
    },
  };
  return parseDeviceManifest(manifest, new Map([[model.name, model]]), 'modbus-test (fixture)');
}

/** Values that exercise sign, width, swaps, scale and padding. */
export const MODBUS_TEST_VALUES = {
  i16: -123,
  u16: 65000,
  i32: -1234567,
  u32: 3000000000,
  i64: -9007199254740991,
  u64: 9007199254740991,
  f32: 21.3,
  f64: -0.1,
  scaled: 21.5,
  text: 'heat',
  raw: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
  flag: true,
  coil: true,
  coils: 0b1010100101,
  di: true,
  ir: 42.25,
  ir16: -7,
} as const;

export interface ModbusTestRig {
  readonly model: DeviceModel;
  readonly simulator: ModbusSimulator;
  readonly server: ModbusTcpServer;
  readonly port: number;
  /** The manifest as the mapper sees it: pointing at the simulator's port. */
  readonly device: DeviceInstance;
  close(): Promise<void>;
}

/**
 * The test device simulated on 127.0.0.1 (port 0), holding MODBUS_TEST_VALUES, with no random
 * walk unless asked. `protocol` overrides the mapper-side configData (timeout, maxGap...).
 */
export async function startModbusTestRig(
  options: ModbusTestDeviceOptions & { readonly evolveEveryMs?: number; readonly noDelay?: boolean } = {},
): Promise<ModbusTestRig> {
  const model = modbusTestModel();
  const simulated = modbusTestDevice(model, { ...options, protocol: undefined });
  const simulator = new ModbusSimulator({ device: simulated, model, evolveEveryMs: options.evolveEveryMs ?? 0, initial: MODBUS_TEST_VALUES });
  const server = new ModbusTcpServer({ units: simulator, noDelay: options.noDelay });
  const { port } = await server.start();
  simulator.start();
  const device = modbusTestDevice(model, { ...options, protocol: { port: String(port), ...options.protocol } });
  return {
    model,
    simulator,
    server,
    port,
    device,
    async close() {
      simulator.stop();
      await server.close();
    },
  };
}
