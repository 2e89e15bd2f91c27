// `edgetwin simulate modbus --device FILE [--port N]`: a simulated Modbus slave, standalone, for
// any mapper (edgetwin's, KubeEdge's, mbpoll...) to talk to.
// `edgetwin simulate ble --device FILE --broker URL`: simulated BLE peripherals exist only
// beneath noble inside one process, so this runs the simulated adapter together with the
// unchanged Bluetooth mapper, driving the devices' twins on the broker.

import { edgetwinError } from '../errors.js';
import { createLogger, logProblem, type LogFormat } from '../edgecore/index.js';
import { MqttBus } from '../eventbus/index.js';
import { createBluetoothMapper, MapperRuntime } from '../mappers/index.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels } from '../schemas/index.js';
import { createSimulatedAdapter, simulateModbus } from '../simulators/index.js';
import { waitForSignal } from './signals.js';

export interface SimulateOptions {
  readonly device: string;
  readonly models?: readonly string[];
  readonly port?: number;
  readonly host?: string;
  readonly seed?: number;
  readonly broker: string;
  readonly logLevel: string;
  readonly logFormat?: LogFormat;
}

export async function simulateCommand(kind: string, opts: SimulateOptions): Promise<void> {
  if (kind === 'modbus') return simulateModbusCommand(opts);
  if (kind === 'ble' || kind === 'bluetooth') return simulateBleCommand(opts);
  throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `no simulator "${kind}" (available: modbus, ble)`);
}

async function simulateModbusCommand(opts: SimulateOptions): Promise<void> {
  const stop = waitForSignal();
  const sim = await simulateModbus({
    device: opts.device,
    ...(opts.models ? { models: opts.models } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });
  try {
    process.stdout.write(`${sim.description}\nedgetwin simulator ready: modbus on ${sim.host}:${sim.port}\n`);
    await stop;
  } finally {
    await sim.close();
  }
}

async function simulateBleCommand(opts: SimulateOptions): Promise<void> {
  const logger = createLogger(opts.logLevel as 'info', 'edgetwin', opts.logFormat);
  const { models, errors: modelErrors } = loadModels([BUNDLED_MODELS_DIR, ...(opts.models ?? [])]);
  const { devices, errors: deviceErrors } = loadDevices([opts.device], models);
  for (const e of [...modelErrors, ...deviceErrors]) logProblem(logger, 'warn', e, {}, 'skipped: ');
  const ble = devices.filter((d) => d.protocol?.protocolName === 'bluetooth');
  if (ble.length === 0) throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `no device with protocolName bluetooth in ${opts.device}`);

  const stop = waitForSignal();
  const adapter = createSimulatedAdapter({ devices: ble, models, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
  const bus = new MqttBus({ url: opts.broker, clientId: `edgetwin-simulate-ble-${process.pid}`, logger: logger.child({ module: 'eventbus' }) });
  const runtime = new MapperRuntime({ bus, factories: [createBluetoothMapper({ noble: adapter.noble })], logger: logger.child({ module: 'mappers' }) });
  try {
    await bus.start();
    const problems = await runtime.setDevices(ble.map((instance) => ({ instance, model: models.get(instance.model)! })));
    for (const d of ble) process.stdout.write(`simulated BLE peripheral ${d.id} (${d.protocol?.configData.macAddress as string})\n`);
    process.stdout.write(`edgetwin simulator ready: ble, ${ble.length - problems.length} devices mapped via ${opts.broker}\n`);
    await stop;
  } finally {
    await runtime.stop();
    await bus.close();
    await adapter.close();
    logger.flush();
  }
}
