// `edgetwin mapper <protocol>` / `edgetwin mapper --plugin <pkg>`: a mapper of the protocol
// registry (mappers/registry.ts) — bundled, or a plugin package's — in its own process, with the
// same runtime code as in-process; only the transport differs.
// - `--broker URL --devices PATH`: over MQTT, driving the twins of a running edgetwin (or any
//   KubeEdge-compatible broker).
// - `--dmi-socket EDGECORE_SOCK [--mapper-socket OWN_SOCK]`: as a KubeEdge DMI mapper under
//   edgecore (or `edgetwin run --dmi-socket`), which gives it its devices (docs/dmi.md).

import path from 'node:path';
import { edgetwinError, isEdgetwinError } from '../errors.js';
import { createLogger, logProblem, VERSION, type LogFormat } from '../edgecore/index.js';
import { MqttBus, redactUrl } from '../eventbus/index.js';
import { BUNDLED_PROTOCOLS, loadPlugin, MapperRuntime, ProtocolRegistry, startDmiMapper, type MapperFactory, type ProtocolEntry } from '../mappers/index.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels } from '../schemas/index.js';
import { waitForSignal } from './signals.js';

/** The bundled protocols, for help texts. */
export function protocolNames(): string {
  return BUNDLED_PROTOCOLS.map((e) => e.name).join(', ');
}

/**
 * The registry entry a command names: a bundled protocol (or alias), or the protocol of
 * `--plugin` (loaded here; EDGETWIN_ERR_PLUGIN_LOAD / _INVALID when it cannot be). Throws
 * EDGETWIN_ERR_MAPPER_UNKNOWN for an unknown name, EDGETWIN_ERR_CLI_USAGE for neither or a
 * name the plugin does not provide.
 */
export async function protocolEntry(protocol: string | undefined, plugin: string | undefined): Promise<ProtocolEntry> {
  const registry = new ProtocolRegistry();
  if (plugin !== undefined) {
    const entry = registry.add(await loadPlugin(plugin), plugin);
    if (protocol !== undefined && registry.get(protocol) !== entry) {
      throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `--plugin ${plugin} provides protocol "${entry.name}", not "${protocol}" (leave the protocol out)`);
    }
    return entry;
  }
  if (protocol === undefined) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `name a protocol (${protocolNames()}) or give --plugin <package-or-path>`);
  return registry.require(protocol);
}

export interface MapperCommandOptions {
  readonly broker: string;
  readonly devices?: readonly string[];
  readonly models?: readonly string[];
  readonly timeoutMs: number;
  readonly resyncMs?: number;
  readonly logLevel: string;
  readonly dmiSocket?: string;
  readonly mapperSocket?: string;
  readonly logFormat?: LogFormat;
  /** A mapper plugin package or path (mappers/plugins.ts), resolved from the working directory. */
  readonly plugin?: string;
}

export async function mapperCommand(name: string | undefined, opts: MapperCommandOptions): Promise<void> {
  // A bundled bluetooth mapper uses the host's adapter (HCI); a missing one is
  // EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE per device, and the mapper keeps retrying with backoff.
  const { plugin: { factory } } = await protocolEntry(name, opts.plugin);
  const protocol = factory.protocol;
  if (opts.dmiSocket !== undefined) return dmiMapperCommand(factory, opts.dmiSocket, opts);
  if (opts.devices === undefined || opts.devices.length === 0) {
    throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', '--devices is required over MQTT (with --dmi-socket the devices come from edgecore)');
  }
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

/** Waits for edgecore (printing nothing until registered), then one ready line per registration. */
async function dmiMapperCommand(factory: MapperFactory, dmiSocket: string, opts: MapperCommandOptions): Promise<void> {
  const logger = createLogger(opts.logLevel as 'info', 'edgetwin', opts.logFormat);
  // mapper-framework's convention: /etc/kubeedge/<protocol>.sock beside edgecore's dmi.sock.
  const mapperSocket = opts.mapperSocket ?? path.join(path.dirname(path.resolve(dmiSocket)), `${factory.protocol}.sock`);
  const stop = waitForSignal();
  const aborted = new AbortController();
  void stop.then(() => aborted.abort());
  try {
    const mapper = await startDmiMapper(
      {
        factory,
        edgecoreSocket: dmiSocket,
        mapperSocket,
        logger,
        version: VERSION,
        timeoutMs: opts.timeoutMs,
        onRegistered: (devices, problems) => {
          const skipped = problems.length > 0 ? `, ${problems.length} skipped (see log)` : '';
          process.stdout.write(`edgetwin mapper ${factory.protocol} ready: ${devices} devices via DMI ${path.resolve(dmiSocket)}, serving ${mapperSocket}${skipped}\n`);
        },
      },
      aborted.signal,
    );
    await stop;
    await mapper.stop();
  } catch (err) {
    if (!isEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_ABORTED')) throw err;
  } finally {
    logger.flush();
  }
}
