// The Modbus mapper passes the mapper conformance suite against the simulator over real TCP,
// with the "every kind of register" test device (every table, dataType, scale and swap).
import { mapperConformance } from '../sdk/conformance.js';
import { startModbusTestRig } from '../../simulators/index.js';
import { modbusMapper } from './index.js';

mapperConformance('modbus (TCP, simulator)', async () => {
  const rig = await startModbusTestRig({ protocol: { timeout: 300 } });
  const { simulator, server, model } = rig;
  const wire = (name: string): string => {
    const checked = model.properties.get(name)!.check(simulator.get(name));
    if (!checked.ok) throw new Error(checked.message);
    return checked.wire;
  };
  return {
    factory: modbusMapper,
    instance: rig.device,
    model,
    readable: ['i16', 'u32', 'f32', 'scaled', 'text', 'coil', 'di', 'ir', 'ir16'],
    writable: { property: 'f32', values: ['21.5', '-3.25'] },
    setDeviceValue: (name, w) => {
      const parsed = model.properties.get(name)!.parse(w);
      if (!parsed.ok) throw new Error(parsed.message);
      simulator.set(name, parsed.value);
    },
    deviceValue: wire,
    silence: () => simulator.faults.silence(true),
    heal: () => simulator.faults.silence(false),
    drop: () => void server.dropConnections(),
    close: () => rig.close(),
  };
});
