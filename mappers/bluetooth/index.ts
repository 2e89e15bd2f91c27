// mappers/bluetooth: the Bluetooth LE mapper (noble's central API). Its public face.

import type { MapperFactory } from '../sdk/types.js';
import { loadNoble } from './adapter.js';
import { centralFor, type Central } from './central.js';
import { parseProtocolConfig, PROTOCOL_CONFIG_SCHEMA, VISITOR_CONFIG_SCHEMA } from './config.js';
import { BluetoothDriver } from './driver.js';
import { Backoff, type BackoffOptions } from './guard.js';
import type { NobleCentral } from './noble.js';

export interface BluetoothMapperOptions {
  /**
   * The central to drive: a noble instance (e.g. a simulated adapter's `noble`), or a loader
   * called on first use. Default: `() => loadNoble('hci')`, the host's adapter. A loader that
   * fails (EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE) is asked again on a later attempt.
   */
  readonly noble?: NobleCentral | (() => Promise<NobleCentral>);
  /** Delays between failed connection attempts of one device (default 500 ms ×2 → 30 s, ±20%). */
  readonly backoff?: BackoffOptions;
  /** Jitter source, for deterministic tests. */
  readonly random?: () => number;
}

/**
 * A Bluetooth MapperFactory over one noble central. Typed on unknown configs, like Modbus: the
 * driver validates `protocol` and each `visitor` itself. connect() throws
 * EDGETWIN_ERR_MAPPER_CONFIG for a bad protocol config and never touches the radio (the driver
 * connects on first use).
 */
export function createBluetoothMapper(options: BluetoothMapperOptions = {}): MapperFactory {
  const source = options.noble ?? (() => loadNoble('hci'));
  let loading: Promise<Central> | undefined;
  const central = (): Promise<Central> => {
    if (typeof source !== 'function') return Promise.resolve(centralFor(source));
    loading ??= source().then(centralFor, (err: unknown) => {
      // Not cached: the adapter may be powered on (or plugged in) later.
      loading = undefined;
      throw err;
    });
    return loading;
  };
  return {
    protocol: 'bluetooth',
    protocolConfigSchema: PROTOCOL_CONFIG_SCHEMA,
    visitorConfigSchema: VISITOR_CONFIG_SCHEMA,
    connect: (ctx, device) =>
      new BluetoothDriver(ctx, device, {
        target: parseProtocolConfig(device.protocol),
        central,
        backoff: new Backoff(options.backoff, options.random),
      }),
  };
}

/** The factory the mapper runtime registers for `protocolName: bluetooth`, on the host's adapter. */
export const bluetoothMapper: MapperFactory = createBluetoothMapper();

export { BluetoothDriver, type BluetoothDriverOptions } from './driver.js';
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
  shortestFloat32,
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
