// The Bluetooth mapper passes the mapper conformance suite against the simulated adapter: noble's
// real central code over the simulated binding, with the "every dataType" test device. The
// closed loop writes `switch` through dataWrite ({"ON": [1], "OFF": [0]}).
import { startBleTestRig } from '../../simulators/index.js';
import { mapperConformance } from '../sdk/conformance.js';
import { createBluetoothMapper } from './index.js';

mapperConformance('bluetooth (noble over the simulated adapter)', () => {
  // Deadlines under the suite's (400 ms) and the runtime's (300 ms); a short backoff so that
  // recovery after heal() is the runtime's business, not a long driver delay.
  const rig = startBleTestRig({ devices: [{ protocol: { scanTimeoutMs: 200, connectTimeoutMs: 200, requestTimeoutMs: 250 } }] });
  const sim = rig.peripherals[0]!;
  const model = rig.model;
  return Promise.resolve({
    factory: createBluetoothMapper({ noble: rig.adapter.noble, backoff: { initialMs: 20, maxMs: 100 } }),
    instance: rig.devices[0]!,
    model,
    readable: ['i16le', 'u32be', 'f32le', 'f64be', 'temperature', 'humidity', 'text', 'flag', 'switch', 'legacy'],
    writable: { property: 'switch', values: ['ON', 'OFF'] as const },
    setDeviceValue: (name: string, w: string) => {
      const parsed = model.properties.get(name)!.parse(w);
      if (!parsed.ok) throw new Error(parsed.message);
      sim.set(name, parsed.value);
    },
    deviceValue: (name: string) => sim.wire(name),
    // Out of range: reads and writes go unanswered, and it is not seen advertising.
    silence: () => {
      sim.failReads('silent');
      sim.failWrites(true);
      sim.stopAdvertising();
    },
    heal: () => {
      sim.failReads(false);
      sim.failWrites(false);
      sim.resumeAdvertising();
    },
    drop: () => sim.disconnect(),
    close: () => rig.close(),
  });
});
