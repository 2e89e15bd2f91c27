// The Bluetooth protocol's simulator (its registry entry's `simulator`): simulated BLE
// peripherals exist only beneath noble, so this is a simulated adapter carrying the devices, and
// the factory it returns is the unchanged Bluetooth mapper on that adapter. simulators/ is
// imported on first use.

import type { ProtocolSimulator, SimulatedDevices } from '../sdk/types.js';
import { createBluetoothMapper } from './factory.js';

export const bluetoothSimulator: ProtocolSimulator = {
  beneathDriver: true,
  async start(devices, ctx, options = {}): Promise<SimulatedDevices> {
    const { createSimulatedAdapter } = await import('../../simulators/index.js');
    const adapter = createSimulatedAdapter({
      devices: devices.map((d) => d.instance),
      models: new Map(devices.map((d) => [d.model.name, d.model])),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    });
    for (const d of devices) ctx.logger.info(`simulated BLE peripheral ${d.instance.id} on the simulated adapter`);
    return {
      description: `bluetooth: ${devices.length} simulated peripherals on the simulated adapter`,
      problems: [],
      factory: createBluetoothMapper({ noble: adapter.noble }),
      close: () => adapter.close(),
    };
  },
};
