// `edgetwin simulate <name> --device FILE` (or `--plugin <pkg>`): the simulator of a protocol of
// the registry (mappers/registry.ts), standalone, for any mapper (edgetwin's, KubeEdge's,
// mbpoll...) to talk to — `simulate modbus` is a Modbus TCP slave on the manifest's port (or
// --port). A simulator beneath the driver (`simulate ble`: peripherals exist only beneath noble
// inside one process) runs together with the unchanged mapper, driving the devices' twins on
// --broker.

import { edgetwinError } from '../errors.js';
import { createLogger, logProblem, type LogFormat } from '../edgecore/index.js';
import { MqttBus, redactUrl } from '../eventbus/index.js';
import { MapperRuntime, type SimulatedDevices } from '../mappers/index.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels } from '../schemas/index.js';
import { protocolEntry } from './mapper.js';
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
  /** A mapper plugin package or path whose simulator to run. */
  readonly plugin?: string;
}

export async function simulateCommand(kind: string | undefined, opts: SimulateOptions): Promise<void> {
  const entry = await protocolEntry(kind, opts.plugin);
  const simulator = entry.plugin.simulator;
  if (!simulator) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `protocol ${entry.name} has no simulator`);
  const protocol = entry.name;
  const logger = createLogger(opts.logLevel as 'info', 'edgetwin', opts.logFormat);
  const { models, errors: modelErrors } = loadModels([BUNDLED_MODELS_DIR, ...(opts.models ?? [])]);
  const { devices, errors: deviceErrors } = loadDevices([opts.device], models);
  for (const e of [...modelErrors, ...deviceErrors]) logProblem(logger, 'warn', e, {}, 'skipped: ');
  const mine = devices.filter((d) => d.protocol?.protocolName === protocol);
  if (mine.length === 0) throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `no device with protocolName ${protocol} in ${opts.device}`);
  const inputs = mine.map((instance) => ({ instance, model: models.get(instance.model)! }));

  const stop = waitForSignal();
  let sim: SimulatedDevices | undefined;
  let bus: MqttBus | undefined;
  let runtime: MapperRuntime | undefined;
  try {
    sim = await simulator.start(inputs, { logger: logger.child({ module: 'simulators' }), now: Date.now }, {
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.host !== undefined ? { host: opts.host } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    });
    const [first] = sim.problems ?? [];
    if (first && (sim.problems?.length ?? 0) >= mine.length) throw first;
    for (const d of mine) process.stdout.write(`simulated ${protocol} device ${d.id}\n`);
    if (!sim.factory) {
      process.stdout.write(`edgetwin simulator ready: ${sim.description}\n`);
    } else {
      // Beneath the driver: only a mapper in this process can reach the simulated hardware.
      bus = new MqttBus({ url: opts.broker, clientId: `edgetwin-simulate-${protocol}-${process.pid}`, logger: logger.child({ module: 'eventbus' }) });
      runtime = new MapperRuntime({ bus, factories: [sim.factory], logger: logger.child({ module: 'mappers' }) });
      await bus.start();
      const problems = await runtime.setDevices(inputs);
      process.stdout.write(`edgetwin simulator ready: ${kind ?? protocol}, ${inputs.length - problems.length} devices mapped via ${redactUrl(opts.broker)}\n`);
    }
    await stop;
  } finally {
    await runtime?.stop();
    await bus?.close();
    await sim?.close();
    logger.flush();
  }
}
