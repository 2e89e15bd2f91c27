// What `edgetwin check` and `edgetwin run --strict` ask before anything starts: would this
// config start cleanly? The same loaders as EdgeCore.start (models, manifests with their model
// defaults, mqtt.limits admission, the in-process mappers' config validation, the users file,
// TLS files, the kubeconfig, `simulate` names), without opening the store, listening on a port
// or touching a device: a mapper's connect() never does I/O (mappers/sdk/types.ts), and its
// driver is closed at once.

import { edgetwinError, toEdgetwinError, type EdgetwinError, type ErrorCode } from '../errors.js';
import { admitDevices } from '../devicetwin/index.js';
import { BrokerAuth, loadTlsOptions } from '../eventbus/index.js';
import { bindDevice, loadPlugins, ProtocolRegistry, type MapperFactory } from '../mappers/index.js';
import { BUNDLED_MODELS_DIR, loadModels, suggestion, type DeviceInstance, type DeviceModel, type EdgetwinConfig } from '../schemas/index.js';
import { silentLogger, type Logger } from './logger.js';
import { loadManifests } from './manifests.js';

/** A coded warning: the device loads and is served, but part of what it says has no effect. */
export interface CheckWarning {
  readonly code: ErrorCode;
  /** The device id, file or setting it is about. */
  readonly where: string;
  readonly message: string;
}

export interface CheckReport {
  readonly models: number;
  readonly devices: number;
  /** What `run` would skip (or refuse to start with), each with its own code, in load order. */
  readonly problems: readonly EdgetwinError[];
  readonly warnings: readonly CheckWarning[];
}

/** The in-process mappers' view of each device: the problems setDevices would report. */
async function checkMappers(config: EdgetwinConfig, bound: ReadonlyArray<{ instance: DeviceInstance; model: DeviceModel }>, logger: Logger) {
  const warnings: CheckWarning[] = [];
  // The registry `run` maps with (edgecore/mappers.ts): bundled protocols, then the plugins.
  const registry = new ProtocolRegistry();
  const plugins = await loadPlugins(config.mappers.plugins, registry);
  const problems: EdgetwinError[] = [...plugins.problems];
  const factories = new Map<string, MapperFactory>();
  for (const name of [...config.mappers.enabled, ...plugins.entries.map((e) => e.name)]) {
    const entry = registry.get(name);
    if (entry?.name === name) factories.set(name, entry.plugin.factory);
    else problems.push(edgetwinError('EDGETWIN_ERR_MAPPER_UNKNOWN', `mappers.enabled: no mapper for protocol "${name}"${suggestion(name, registry.names())} (available: ${registry.names().join(', ')})`));
  }
  for (const { instance, model } of bound) {
    const protocol = instance.protocol?.protocolName;
    const factory = protocol === undefined ? undefined : factories.get(protocol);
    if (!factory) continue;
    try {
      const { driverDevice, warnings: keys } = bindDevice(factory, instance, model);
      for (const w of keys) warnings.push({ code: w.code ?? 'EDGETWIN_ERR_VISITOR_KEY_UNKNOWN', where: instance.id, message: `${w.path ?? ''}: ${w.message}` });
      // connect() resolves the protocol config (and throws for what its schema cannot say).
      await factory.connect({ logger, now: Date.now }, driverDevice).close();
    } catch (err) {
      // The sentence MapperRuntime.setDevices gives the same failure (mappers/sdk/runtime.ts).
      const cause = toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG');
      problems.push(edgetwinError(cause.code, `device ${instance.id} not mapped: ${cause.message.replace(`device ${instance.id}: `, '')}`, cause.details, cause));
    }
  }
  return { problems, warnings };
}

/** The node-wide settings run refuses to start with: auth, TLS, the kubeconfig. */
async function checkSettings(config: EdgetwinConfig): Promise<EdgetwinError[]> {
  const problems: EdgetwinError[] = [];
  const attempt = async (fallback: ErrorCode, fn: () => unknown): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      problems.push(toEdgetwinError(err, fallback));
    }
  };
  const { auth, tls } = config.mqtt;
  await attempt('EDGETWIN_ERR_AUTH_CONFIG', () => {
    const broker = new BrokerAuth({
      nodeName: config.nodeName,
      registry: { protocolOf: () => undefined },
      logger: silentLogger(),
      anonymousRole: auth.anonymousRole,
      plainHost: config.mqtt.host,
      ...(auth.usersFile !== undefined ? { usersFile: auth.usersFile } : {}),
      ...(auth.anonymous !== undefined ? { anonymous: auth.anonymous } : {}),
      ...(tls ? { clientCertificates: tls.clientCertificates } : {}),
    });
    try {
      broker.start();
    } finally {
      broker.stop();
    }
  });
  if (tls) await attempt('EDGETWIN_ERR_TLS_CONFIG', () => loadTlsOptions(tls));
  const { kubeconfig, context } = config.cloud;
  if (kubeconfig !== undefined) {
    await attempt('EDGETWIN_ERR_CLOUD_KUBECONFIG', async () => (await import('../cloudsync/index.js')).loadKubeConfig(kubeconfig, context));
  }
  return problems;
}

/**
 * Loads and checks everything `config` names, as EdgeCore.start would, and reports every
 * problem; opens nothing that outlives the call.
 */
export async function checkNode(config: EdgetwinConfig, logger: Logger = silentLogger()): Promise<CheckReport> {
  const problems: EdgetwinError[] = await checkSettings(config);
  const warnings: CheckWarning[] = [];
  const modelPaths = [...(config.bundledModels ? [BUNDLED_MODELS_DIR] : []), ...config.models];
  const loaded = loadModels(modelPaths);
  problems.push(...loaded.errors);
  const devs = await loadManifests(config.devices, modelPaths, loaded.models).result;
  problems.push(...devs.errors);
  for (const d of devs.devices) {
    for (const w of d.warnings ?? []) warnings.push({ code: w.code ?? 'EDGETWIN_ERR_DEVICE_FIELD_UNSUPPORTED', where: d.id, message: `${w.path ?? ''}: ${w.message}` });
  }
  const declared = devs.devices.map((instance) => ({ instance, model: loaded.models.get(instance.model)! }));
  const { admitted, refused } = admitDevices(declared, config.mqtt.limits, () => false, new Set());
  problems.push(...refused);
  const ids = admitted.map((d) => d.instance.id);
  for (const id of config.simulate) {
    // The sentence edgecore/simulation.ts gives it.
    if (!ids.includes(id)) problems.push(edgetwinError('EDGETWIN_ERR_MANIFEST_INVALID', `simulate: no loaded device ${id}${suggestion(id, ids)}`));
  }
  const mapped = await checkMappers(config, admitted, logger);
  problems.push(...mapped.problems);
  warnings.push(...mapped.warnings);
  return { models: loaded.models.size, devices: devs.devices.length, problems, warnings };
}
