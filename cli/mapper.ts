// `edgetwin mapper <protocol> --broker URL --devices PATH`: a bundled mapper in its own process,
// over MQTT, driving the twins of a running edgetwin (or any KubeEdge-compatible broker). The
// same runtime code as in-process; only the bus differs.

import { edgetwinError } from '../errors.js';
import { createLogger, logProblem, type LogFormat } from '../edgecore/index.js';
import { MqttBus, redactUrl } from '../eventbus/index.js';
import { bluetoothMapper, MapperRuntime, modbusMapper, type MapperFactory } from '../mappers/index.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels } from '../schemas/index.js';
import { waitForSignal } from './signals.js';

// bluetooth uses the host's adapter (HCI); a missing one is EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE
// per device, and the mapper keeps retrying with backoff.
const FACTORIES: Record<string, MapperFactory> = { modbus: modbusMapper, bluetooth: bluetoothMapper };

export interface MapperCommandOptions {
  readonly broker: string;
  readonly devices: readonly string[];
  readonly models?: readonly string[];
  readonly timeoutMs: number;
  readonly resyncMs?: number;
  readonly logLevel: string;
  readonly logFormat?: LogFormat;
}

export async function mapperCommand(protocol: string, opts: MapperCommandOptions): Promise<void> {
  const factory = FACTORIES[protocol];
  if (!factory) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `no bundled mapper for "${protocol}" (available: ${Object.keys(FACTORIES).join(', ')})`);
  const logger = createLogger(opts.logLevel as 'info', 'edgetwin', opts.logFormat);
  const { models, errors: modelErrors } = loadModels([BUNDLED_MODELS_DIR, ...(opts.models ?? [])]);
  const { devices, errors: deviceErrors } = loadDevices(opts.devices, models);
  for (const e of [...modelErrors, ...deviceErrors]) logProblem(logger, 'warn', e, {}, 'skipped: ');
  const mine = devices.filter((d) => d.protocol?.protocolName === protocol);
  if (mine.length === 0) throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `no device with protocolName ${protocol} in ${opts.devices.join(', ')}`);

  const stop = waitForSignal();
  const bus = new MqttBus({ url: opts.broker, clientId: `edgetwin-mapper-${protocol}-${process.pid}`, logger: logger.child({ module: 'eventbus' }) });
  await bus.start();
  const runtime = new MapperRuntime({
    bus,
    factories: [factory],
    logger: logger.child({ module: 'mappers' }),
    timeoutMs: opts.timeoutMs,
    ...(opts.resyncMs !== undefined ? { resyncMs: opts.resyncMs } : {}),
  });
  try {
    const problems = await runtime.setDevices(mine.map((instance) => ({ instance, model: models.get(instance.model)! })));
    // Each problem is logged once, with its device, by the runtime; a mapper left with no device
    // at all has nothing to do, so it exits rather than idle (e.g. every device refused:
    // ACCESS_DENIED), with the first problem's code and without saying the problems again.
    const [first] = problems;
    if (first && problems.length === mine.length) {
      throw edgetwinError(first.code, `no device could be mapped (${problems.length} of ${mine.length} refused, each logged above)`, [], first);
    }
    process.stdout.write(`edgetwin mapper ${protocol} ready: ${mine.length - problems.length} devices via ${redactUrl(opts.broker)}\n`);
    await stop;
  } finally {
    await runtime.stop();
    await bus.close();
    logger.flush();
  }
}
