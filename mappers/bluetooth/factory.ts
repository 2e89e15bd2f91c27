// The Bluetooth mapper's factory over one noble central.

import type { MapperFactory } from '../sdk/types.js';
import { loadNoble } from './adapter.js';
import { centralFor, type Central } from './central.js';
import { defineMapper } from '../sdk/define.js';
import { PROTOCOL_CONFIG_SCHEMA, resolveProtocolConfig, VISITOR_CONFIG_SCHEMA, type BleProtocolConfig, type BleVisitorConfig } from './config.js';
import { BluetoothDriver } from './driver.js';
import { Backoff, type BackoffOptions } from './guard.js';
import { BleLink } from './link.js';
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
 * A Bluetooth MapperFactory over one noble central (use one factory per adapter). Its configs
 * are typed from the schemas (config.ts) and validated once per device (defineMapper).
 * connect() throws EDGETWIN_ERR_MAPPER_CONFIG for a bad protocol config and never touches the
 * radio (the driver connects on first use).
 */
export function createBluetoothMapper(options: BluetoothMapperOptions = {}): MapperFactory<BleProtocolConfig, BleVisitorConfig> {
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
  // One link per device address: a peripheral takes one connection, and noble has one
  // Peripheral object per device, so drivers for the same device share it (link.ts).
  const links = new Map<string, { link: BleLink; users: number }>();
  return defineMapper<typeof PROTOCOL_CONFIG_SCHEMA, typeof VISITOR_CONFIG_SCHEMA>({
    protocol: 'bluetooth',
    protocolConfigSchema: PROTOCOL_CONFIG_SCHEMA,
    visitorConfigSchema: VISITOR_CONFIG_SCHEMA,
    connect: (ctx, device) => {
      const target = resolveProtocolConfig(device.protocol);
      const key = target.address ?? `name:${target.localName ?? device.id}`;
      let entry = links.get(key);
      if (!entry) {
        const link = new BleLink({ deviceId: device.id, target, central, logger: ctx.logger, now: ctx.now, backoff: new Backoff(options.backoff, options.random) });
        entry = { link, users: 0 };
        links.set(key, entry);
      }
      entry.users++;
      const shared = entry;
      let released = false;
      const release = async (): Promise<void> => {
        if (released) return;
        released = true;
        if (--shared.users > 0) return;
        if (links.get(key) === shared) links.delete(key);
        await shared.link.close();
      };
      return new BluetoothDriver(device, { link: shared.link, release });
    },
  });
}

/** The factory the mapper runtime registers for `protocolName: bluetooth`, on the host's adapter. */
export const bluetoothMapper: MapperFactory<BleProtocolConfig, BleVisitorConfig> = createBluetoothMapper();

