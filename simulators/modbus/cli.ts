// `edgetwin simulate modbus --device FILE --port N`: the function behind the command. It prints
// nothing; the caller shows `description` and calls `close()` on SIGINT.

import { edgetwinError, type EdgetwinError } from '../../errors.js';
import { parseProtocolConfig } from '../../mappers/modbus/index.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels, type DeviceInstance } from '../../schemas/index.js';
import { ModbusSimulator } from './simulator.js';
import { ModbusTcpServer } from './tcp-server.js';

export interface SimulateModbusOptions {
  /** A Device manifest file (or folder); every Modbus device in it becomes one unit. */
  readonly device: string;
  /** Model files or folders, in addition to the bundled models. */
  readonly models?: readonly string[];
  /** Default: the first device's own `port` (so the manifest and the simulator agree), else 502. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly seed?: number;
  /** Period of the random walk of read-only values; default 1000 ms. */
  readonly evolveEveryMs?: number;
}

export interface ModbusSimulation {
  readonly host: string;
  readonly port: number;
  readonly server: ModbusTcpServer;
  readonly simulators: readonly ModbusSimulator[];
  /** What is running, in a few lines, for the command to print. */
  readonly description: string;
  /** Problems that did not stop the simulation (another model in a folder failed to load). */
  readonly warnings: readonly EdgetwinError[];
  close(): Promise<void>;
}

function defaultPort(device: DeviceInstance): number {
  const endpoint = parseProtocolConfig(device.protocol?.configData).endpoint;
  return endpoint.mode === 'TCP' ? endpoint.port : 502;
}

/** Loads the manifest and its models, builds one simulated unit per Modbus device, and listens. */
export async function simulateModbus(options: SimulateModbusOptions): Promise<ModbusSimulation> {
  const { models, errors: modelErrors } = loadModels([BUNDLED_MODELS_DIR, ...(options.models ?? [])]);
  const { devices, errors: deviceErrors } = loadDevices([options.device], models);
  const [firstError] = deviceErrors;
  if (firstError) throw firstError;
  const modbus = devices.filter((d) => d.protocol?.protocolName === 'modbus');
  const [first] = modbus;
  if (!first) throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `No device with protocolName modbus in ${options.device}`);

  const simulators = modbus.map((device) => {
    const model = models.get(device.model);
    if (!model) throw edgetwinError('EDGETWIN_ERR_MODEL_UNKNOWN', `Model "${device.model}" of ${device.id} is not loaded`);
    return new ModbusSimulator({ device, model, seed: options.seed, evolveEveryMs: options.evolveEveryMs });
  });
  const server = new ModbusTcpServer({ units: simulators, host: options.host ?? '127.0.0.1', port: options.port ?? defaultPort(first) });
  const { host, port } = await server.start();
  for (const sim of simulators) sim.start();

  const lines = [`Modbus TCP simulator on ${host}:${port}`];
  for (const sim of simulators) lines.push(`  unit ${sim.unitId}: ${sim.device.id} (${sim.properties.join(', ')})`);
  return {
    host,
    port,
    server,
    simulators,
    description: lines.join('\n'),
    warnings: modelErrors,
    async close() {
      for (const sim of simulators) sim.stop();
      await server.close();
    },
  };
}
