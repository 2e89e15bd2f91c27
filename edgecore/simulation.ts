// In-process simulated hardware for the demo and tests (config `simulate`): a Modbus slave on
// each listed Modbus device's own ip:port, so the unchanged Modbus mapper talks to it over TCP;
// and a simulated Bluetooth adapter (beneath noble) carrying the listed BLE peripherals, which
// the unchanged Bluetooth mapper uses when `mappers.bluetoothAdapter` is `simulated`.

import type { Logger } from 'pino';
import { edgetwinError, formatError, toEdgetwinError, type EdgetwinError } from '../errors.js';
import { parseModbusProtocolConfig } from '../mappers/index.js';
import { suggestion, type DeviceInstance, type DeviceModel } from '../schemas/index.js';
import { createSimulatedAdapter, ModbusSimulator, ModbusTcpServer, type SimulatedAdapter } from '../simulators/index.js';

export interface Simulation {
  readonly problems: readonly EdgetwinError[];
  /** One line per simulated device, for the log. */
  readonly description: readonly string[];
  /** The simulated Bluetooth adapter, when `simulate` lists BLE devices. */
  readonly bluetooth?: SimulatedAdapter;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

export async function startSimulation(
  ids: readonly string[],
  devices: ReadonlyArray<{ instance: DeviceInstance; model: DeviceModel }>,
  logger: Logger,
  options: { readonly bluetoothAdapter: 'hci' | 'simulated' },
): Promise<Simulation> {
  const problems: EdgetwinError[] = [];
  // Each problem is logged where it is found: the ready line only counts them ("N skipped (see log)").
  const problem = (devices: readonly string[], err: unknown): void => {
    const e = toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG');
    problems.push(e);
    logger.warn({ code: e.code, devices, details: e.details }, `simulated ${devices.join(', ') || 'device'} not started: ${formatError(e)}`);
  };
  const description: string[] = [];
  const byId = new Map(devices.map((d) => [d.instance.id, d]));
  // Modbus units that share an endpoint share one server (as units behind one gateway do).
  const endpoints = new Map<string, { host: string; port: number; units: ModbusSimulator[] }>();
  const ble: Array<{ instance: DeviceInstance; model: DeviceModel }> = [];
  for (const id of ids) {
    const d = byId.get(id);
    if (!d) {
      problem([id], edgetwinError('EDGETWIN_ERR_MANIFEST_INVALID', `simulate: no loaded device ${id}${suggestion(id, byId.keys())}`));
      continue;
    }
    const protocol = d.instance.protocol?.protocolName;
    if (protocol === 'bluetooth') {
      ble.push(d);
      continue;
    }
    if (protocol !== 'modbus') {
      problem([id], edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: ${id} uses protocol "${protocol ?? 'none'}", which has no simulator`));
      continue;
    }
    try {
      const { endpoint } = parseModbusProtocolConfig(d.instance.protocol?.configData);
      if (endpoint.mode !== 'TCP') throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: ${id} is Modbus RTU; only TCP devices are simulated in-process`);
      if (!LOOPBACK.test(endpoint.host)) {
        throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: ${id} points at ${endpoint.host}; a simulated device must be on a loopback address`);
      }
      const key = `${endpoint.host}:${endpoint.port}`;
      const entry = endpoints.get(key) ?? { host: endpoint.host, port: endpoint.port, units: [] };
      entry.units.push(new ModbusSimulator({ device: d.instance, model: d.model }));
      endpoints.set(key, entry);
    } catch (err) {
      problem([id], err);
    }
  }
  const servers: ModbusTcpServer[] = [];
  const units: ModbusSimulator[] = [];
  for (const { host, port, units: sims } of endpoints.values()) {
    try {
      const server = new ModbusTcpServer({ units: sims, host, port });
      await server.start();
      servers.push(server);
      for (const sim of sims) {
        sim.start();
        units.push(sim);
        description.push(`simulated Modbus device ${sim.device.id} (unit ${sim.unitId}) on ${host}:${port}`);
      }
    } catch (err) {
      problem(sims.map((sim) => sim.device.id), err);
    }
  }
  let bluetooth: SimulatedAdapter | undefined;
  if (ble.length > 0 && options.bluetoothAdapter === 'hci') {
    problem(ble.map((d) => d.instance.id), edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: BLE devices (${ble.map((d) => d.instance.id).join(', ')}) need mappers.bluetoothAdapter: simulated`));
  } else if (options.bluetoothAdapter === 'simulated') {
    bluetooth = createSimulatedAdapter({ devices: ble.map((d) => d.instance), models: new Map(ble.map((d) => [d.model.name, d.model])) });
    for (const d of ble) description.push(`simulated BLE peripheral ${d.instance.id} on the simulated adapter`);
  }
  for (const line of description) logger.info(line);
  return {
    problems,
    description,
    ...(bluetooth ? { bluetooth } : {}),
    async close() {
      for (const u of units) u.stop();
      await Promise.all(servers.map((s) => s.close()));
      await bluetooth?.close();
    },
  };
}
