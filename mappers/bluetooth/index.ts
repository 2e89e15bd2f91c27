// mappers/bluetooth: the Bluetooth LE mapper (noble's central API). Its public face.

import type { ProtocolPlugin } from '../sdk/types.js';
import { bluetoothMapper } from './factory.js';
import { bluetoothSimulator } from './simulate.js';

/** The registry entry of `protocolName: bluetooth` (mappers/registry.ts). */
export const bluetoothPlugin: ProtocolPlugin = {
  factory: bluetoothMapper,
  simulator: bluetoothSimulator,
  description: "Bluetooth LE (noble): KubeEdge's macAddress, characteristicUUID, dataConverter, dataWrite",
};

export { bluetoothMapper, createBluetoothMapper, type BluetoothMapperOptions } from './factory.js';
export { bluetoothSimulator } from './simulate.js';
export { BluetoothDriver, type BluetoothDriverOptions } from './driver.js';
export { BleLink, type LinkOptions, type Session, type Subscription } from './link.js';
export { DEFAULT_POWERED_ON_TIMEOUT_MS, loadNoble, nobleFromBinding, waitPoweredOn, type AdapterKind, type HciOptions, type LoadNobleOptions, type SimulatedOptions } from './adapter.js';
export { Central, centralFor, type ScanTarget } from './central.js';
export {
  BLE_DATA_TYPES,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SCAN_TIMEOUT_MS,
  OPERATION_TYPES,
  PROTOCOL_CONFIG_SCHEMA,
  VISITOR_CONFIG_SCHEMA,
  locationKey,
  locationOf,
  parseProtocolConfig,
  parseVisitorConfig,
  type BleDataType,
  type BleLocation,
  type BleProtocolConfig,
  type BleTarget,
  type BleVisitorConfig,
  type DataConverter,
  type OperationType,
} from './config.js';
export {
  applyOperations,
  compileCodec,
  decodeDataType,
  encodeDataType,
  invertOperations,
  kubeedgeConvert,
  selectBytes,
  toModelValue,
  type BleCodec,
} from './codec.js';
export { Backoff, type BackoffOptions } from './guard.js';
export {
  normalizeAddress,
  normalizeUuid,
  type AdapterState,
  type DataListener,
  type NobleBinding,
  type NobleCentral,
  type NobleCharacteristic,
  type NoblePeripheral,
  type NobleService,
} from './noble.js';
