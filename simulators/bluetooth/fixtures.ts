// An "every dataType" BLE device: a model and a Device manifest with one characteristic per
// dataType, two SIG Environmental Sensing characteristics that notify, two properties packed in
// one characteristic, a dataWrite switch and a kubeedgeCompat property. Used by the Bluetooth
// tests and available to the mapper conformance suite.

import { compileModel, parseDeviceManifest, type DeviceInstance, type DeviceModel, type PropertyValue } from '../../schemas/index.js';
import { createSimulatedAdapter, type SimulatedAdapter, type SimulatedAdapterOptions } from './adapter.js';
import type { SimulatedPeripheral } from './peripheral.js';

export const BLE_TEST_MODEL_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'ble-test-device',
  type: 'object',
  properties: {
    u8: { type: 'integer', minimum: 0, maximum: 255 },
    i8: { type: 'integer', minimum: -128, maximum: 127 },
    u16le: { type: 'integer' },
    u16be: { type: 'integer' },
    i16le: { type: 'integer' },
    i16be: { type: 'integer' },
    u32le: { type: 'integer' },
    u32be: { type: 'integer' },
    i32le: { type: 'integer' },
    i32be: { type: 'integer' },
    f32le: { type: 'number' },
    f32be: { type: 'number' },
    f64le: { type: 'number', format: 'double' },
    f64be: { type: 'number', format: 'double' },
    text: { type: 'string', maxLength: 20 },
    flag: { type: 'boolean' },
    raw: { type: 'string', contentEncoding: 'base64' },
    temperature: { type: 'number', minimum: -40, maximum: 85, unit: 'Celsius', readOnly: true },
    humidity: { type: 'number', minimum: 0, maximum: 100, unit: '%RH', readOnly: true },
    packedA: { type: 'integer', minimum: 0, maximum: 255, readOnly: true },
    packedB: { type: 'integer', minimum: 0, maximum: 60000, readOnly: true },
    switch: { type: 'string', enum: ['ON', 'OFF'] },
    legacy: { type: 'number', minimum: 0, maximum: 510, readOnly: true },
  },
  additionalProperties: false,
} as const;

type Visitor = Record<string, unknown>;
const VENDOR_SERVICE = '8e2f0000-6b3a-4d6c-9e2f-5a1b2c3d4e5f';
const vendor = (n: number): string => `8e2f${n.toString(16).padStart(4, '0')}-6b3a-4d6c-9e2f-5a1b2c3d4e5f`;
const typed = (n: number, dataType: string): Visitor => ({ serviceUUID: VENDOR_SERVICE, characteristicUUID: vendor(n), dataType });

/** Property name → visitor configData. */
export const BLE_TEST_VISITORS: Readonly<Record<string, Visitor>> = {
  u8: typed(1, 'uint8'),
  i8: typed(2, 'int8'),
  u16le: typed(3, 'uint16le'),
  u16be: typed(4, 'uint16be'),
  i16le: typed(5, 'int16le'),
  i16be: typed(6, 'int16be'),
  u32le: typed(7, 'uint32le'),
  u32be: typed(8, 'uint32be'),
  i32le: typed(9, 'int32le'),
  i32be: typed(10, 'int32be'),
  f32le: typed(11, 'float32le'),
  f32be: typed(12, 'float32be'),
  f64le: typed(13, 'float64le'),
  f64be: typed(14, 'float64be'),
  text: typed(15, 'utf8'),
  flag: typed(16, 'bool'),
  raw: typed(17, 'bytes'),
  // Bluetooth SIG GATT Specification Supplement §3.204, §3.116: sint16 / uint16 in 0.01 units.
  temperature: { serviceUUID: '181a', characteristicUUID: '00002a6e-0000-1000-8000-00805f9b34fb', dataType: 'int16le', scale: 0.01 },
  humidity: { serviceUUID: '181a', characteristicUUID: '2a6f', dataType: 'uint16le', scale: 0.01 },
  packedA: { serviceUUID: VENDOR_SERVICE, characteristicUUID: vendor(20), dataType: 'uint8', offset: 0 },
  packedB: { serviceUUID: VENDOR_SERVICE, characteristicUUID: vendor(20), dataType: 'uint16le', offset: 1 },
  switch: { characteristicUUID: vendor(21), dataWrite: { ON: [1], OFF: [0] } },
  legacy: { characteristicUUID: vendor(22), kubeedgeCompat: true, dataConverter: { startIndex: 0, endIndex: 0, orderOfOperations: [{ operationType: 'MULTIPLY', operationValue: 2 }] } },
};

/** Values that exercise sign, width, byte order, padding and scale. */
export const BLE_TEST_VALUES: Readonly<Record<string, PropertyValue>> = {
  u8: 200,
  i8: -100,
  u16le: 0xbeef,
  u16be: 0xbeef,
  i16le: -12345,
  i16be: -12345,
  u32le: 3000000000,
  u32be: 3000000000,
  i32le: -2000000000,
  i32be: -2000000000,
  f32le: 21.3,
  f32be: -0.1,
  f64le: 1e-9,
  f64be: -123456.789,
  text: 'héllo',
  flag: true,
  raw: Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
  temperature: 23.45,
  humidity: 41.5,
  packedA: 7,
  packedB: 54321,
  switch: 'OFF',
  legacy: 84,
};

export interface BleTestDeviceOptions {
  readonly name?: string;
  readonly macAddress?: string;
  /** Merged into protocol configData (timeouts). */
  readonly protocol?: Readonly<Record<string, string | number>>;
  readonly visitors?: Readonly<Record<string, Visitor>>;
}

export function bleTestModel(): DeviceModel {
  return compileModel(BLE_TEST_MODEL_SCHEMA, 'ble-test-device (fixture)');
}

/** A Device manifest for the test model, loaded as edgetwin loads any manifest. */
export function bleTestDevice(model: DeviceModel, options: BleTestDeviceOptions = {}): DeviceInstance {
  const visitors = { ...BLE_TEST_VISITORS, ...options.visitors };
  const manifest = {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name: options.name ?? 'ble-test', namespace: 'default' },
    spec: {
      deviceModelRef: { name: model.name },
      protocol: { protocolName: 'bluetooth', configData: { macAddress: options.macAddress ?? 'C0:FF:EE:00:00:01', ...options.protocol } },
      properties: Object.entries(visitors).map(([name, configData]) => ({ name, visitors: { protocolName: 'bluetooth', configData } })),
    },
  };
  return parseDeviceManifest(manifest, new Map([[model.name, model]]), 'ble-test (fixture)');
}

export interface BleTestRig {
  readonly model: DeviceModel;
  readonly adapter: SimulatedAdapter;
  /** One per device, in the order of `devices`. */
  readonly devices: readonly DeviceInstance[];
  readonly peripherals: readonly SimulatedPeripheral[];
  close(): Promise<void>;
}

/**
 * A simulated adapter with the test device (or several, one per entry of `devices`) holding
 * BLE_TEST_VALUES; no evolution unless `notifyIntervalMs` asks for it.
 */
export function startBleTestRig(
  options: Omit<SimulatedAdapterOptions, 'devices' | 'models'> & { readonly devices?: readonly BleTestDeviceOptions[] } = {},
): BleTestRig {
  const model = bleTestModel();
  const devices = (options.devices ?? [{}]).map((d) => bleTestDevice(model, d));
  const adapter = createSimulatedAdapter({ notifyIntervalMs: 0, advertisingIntervalMs: 5, ...options, devices, models: new Map([[model.name, model]]) });
  const peripherals = [...adapter.peripherals.values()];
  for (const p of peripherals) for (const [name, value] of Object.entries(BLE_TEST_VALUES)) p.set(name, value);
  return { model, adapter, devices, peripherals, close: () => adapter.close() };
}
