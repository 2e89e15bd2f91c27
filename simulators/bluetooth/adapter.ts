// createSimulatedAdapter: a simulated Bluetooth adapter with a peripheral for every Bluetooth
// Device manifest, and the noble central that drives it. A simulated binding only lives in one
// process, so `edgetwin simulate ble` runs this beside an in-process Bluetooth mapper:
// `createBluetoothMapper({ noble: adapter.noble })`.

import { nobleFromBinding, type NobleCentral } from '../../mappers/bluetooth/index.js';
import { edgetwinError } from '../../errors.js';
import type { DeviceInstance, DeviceModel } from '../../schemas/index.js';
import { SimulatedBinding } from './binding.js';
import { SimulatedPeripheral } from './peripheral.js';
import { mulberry32 } from './random.js';

export interface SimulatedAdapterOptions {
  /** Devices whose `spec.protocol.protocolName` is `bluetooth` become peripherals; others are ignored. */
  readonly devices: readonly DeviceInstance[];
  readonly models: ReadonlyMap<string, DeviceModel>;
  /** Seeds the random walk of read-only values (default 1). */
  readonly seed?: number;
  /** Values evolve and subscribed characteristics notify this often (default 1000 ms; 0: only on tick()). */
  readonly notifyIntervalMs?: number;
  /** How often advertisements are reported while the central scans (default 20 ms). */
  readonly advertisingIntervalMs?: number;
  /** Start with the adapter powered off (default: on). */
  readonly poweredOn?: boolean;
}

export interface SimulatedAdapter {
  readonly binding: SimulatedBinding;
  /** A noble central over the binding: hand it to createBluetoothMapper({ noble }). */
  readonly noble: NobleCentral;
  /** By address, lower case with colons ('a4:c1:38:00:00:01'). */
  readonly peripherals: ReadonlyMap<string, SimulatedPeripheral>;
  /** Fault injection: power the adapter off (every link drops) or on. */
  setPowered(on: boolean): void;
  /** One evolution step on every peripheral, now (what the notify timer does). */
  tick(): void;
  /** Stops every timer; the noble central is unusable afterwards. */
  close(): Promise<void>;
}

export function createSimulatedAdapter(options: SimulatedAdapterOptions): SimulatedAdapter {
  const binding = new SimulatedBinding({
    ...(options.advertisingIntervalMs !== undefined ? { advertisingIntervalMs: options.advertisingIntervalMs } : {}),
    ...(options.poweredOn !== undefined ? { poweredOn: options.poweredOn } : {}),
  });
  const random = mulberry32(options.seed ?? 1);
  const peripherals = new Map<string, SimulatedPeripheral>();
  for (const device of options.devices) {
    if (device.protocol?.protocolName !== 'bluetooth') continue;
    const model = options.models.get(device.model);
    if (!model) throw edgetwinError('EDGETWIN_ERR_MODEL_UNKNOWN', `device ${device.id}: model "${device.model}" is not loaded`);
    const peripheral = new SimulatedPeripheral(device, model, binding, random);
    if (peripherals.has(peripheral.address)) {
      throw edgetwinError('EDGETWIN_ERR_DEVICE_DUPLICATE', `devices ${peripherals.get(peripheral.address)?.device.id} and ${device.id} share address ${peripheral.address}`);
    }
    peripherals.set(peripheral.address, peripheral);
    binding.add(peripheral);
  }
  const tick = (): void => {
    for (const p of peripherals.values()) p.tick();
  };
  const interval = options.notifyIntervalMs ?? 1000;
  const ticker = interval > 0 ? setInterval(tick, interval) : undefined;
  const noble = nobleFromBinding(binding);
  return {
    binding,
    noble,
    peripherals,
    setPowered: (on) => binding.setPowered(on),
    tick,
    close: () => {
      clearInterval(ticker);
      binding.close();
      return Promise.resolve();
    },
  };
}
