// A simulated Modbus thermostat on a real TCP port (port 0), and the Device manifest that points
// edgetwin's Modbus mapper at it, for tests that switch the device's faults themselves.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels } from '../schemas/index.js';
import { ModbusSimulator, ModbusTcpServer } from '../simulators/index.js';
import { tempDir } from './helpers.js';

/** `default/<name>`, polled every 100 ms: temperature (input registers 0–1), setpoint (holding registers 0–1). */
export function thermostatOnModbus(port: number, name = 'boiler'): string {
  return `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: ${name}, namespace: default }
spec:
  deviceModelRef: { name: thermostat }
  nodeName: edge-test
  protocol:
    protocolName: modbus
    configData: { communicateMode: TCP, ip: 127.0.0.1, port: "${port}", slaveID: 1 }
  properties:
    - name: temperature
      collectCycle: 100
      visitors: { protocolName: modbus, configData: { register: InputRegister, offset: 0, limit: 2, dataType: float } }
    - name: setpoint
      collectCycle: 100
      visitors: { protocolName: modbus, configData: { register: HoldingRegister, offset: 0, limit: 2, dataType: float } }
`;
}

export interface ThermostatSim {
  readonly sim: ModbusSimulator;
  readonly port: number;
  close(): Promise<void>;
}

/** The simulated unit for {@link thermostatOnModbus}'s register map, values fixed unless set. */
export async function startThermostatSim(name = 'boiler'): Promise<ThermostatSim> {
  const tmp = tempDir('edgetwin-thermo-sim-');
  try {
    const draft = path.join(tmp.dir, 'draft.yaml');
    writeFileSync(draft, thermostatOnModbus(1, name));
    const { models } = loadModels([BUNDLED_MODELS_DIR]);
    const device = loadDevices([draft], models).devices[0]!;
    const sim = new ModbusSimulator({ device, model: models.get('thermostat')!, evolveEveryMs: 0 });
    const server = new ModbusTcpServer({ units: sim });
    const { port } = await server.start();
    sim.start();
    return {
      sim,
      port,
      close: async () => {
        sim.stop();
        await server.close();
      },
    };
  } finally {
    tmp.cleanup();
  }
}
