// The composition root: builds every module from the config and starts and stops them in
// order. Start: store → models and devices → twin → broker → serve topics → simulated devices →
// in-process mappers. Stop: the reverse, with in-flight commits flushed before the store closes.

import path from 'node:path';
import type { Logger } from 'pino';
import { toEdgetwinError, type EdgetwinError } from '../errors.js';
// Cloud sync and the simulators are imported when configured: @kubernetes/client-node alone
// costs ~0.6 s of start-up and ~50 MB resident on a node that does not sync (docs/benchmarks.md).
import type { CloudSync } from '../cloudsync/index.js';
import { DeviceTwin, SqliteTwinStore, type TwinStore } from '../devicetwin/index.js';
import { BrokerAuth, ClientLimiter, EmbeddedBroker, loadTlsOptions } from '../eventbus/index.js';
import { bluetoothMapper, createBluetoothMapper, MapperRuntime, modbusMapper, type MapperFactory } from '../mappers/index.js';
import type { Simulation } from './simulation.js';
import { EdgeMetrics } from './metrics.js';
import { HealthServer, type Readiness } from './health.js';
import { logProblem } from './logger.js';
import { loadManifests, type ManifestLoad } from './manifests.js';
import { VERSION } from './version.js';
import {
  BUNDLED_MODELS_DIR,
  loadModels,
  type DeviceInstance,
  type DeviceModel,
  type EdgetwinConfig,
} from '../schemas/index.js';

export interface EdgeCoreOptions {
  readonly config: EdgetwinConfig;
  readonly logger: Logger;
}

export interface StartupReport {
  readonly models: number;
  readonly devices: number;
  /** Models and manifests that were skipped, each with its coded error. */
  readonly problems: readonly EdgetwinError[];
}

export class EdgeCore {
  readonly config: EdgetwinConfig;
  private readonly logger: Logger;
  private store?: TwinStore;
  private broker?: EmbeddedBroker;
  private auth?: BrokerAuth;
  private limiter?: ClientLimiter;
  private twinModule?: DeviceTwin;
  private cloud?: CloudSync;
  private mapperRuntime?: MapperRuntime;
  private simulation?: Simulation;
  private metrics?: EdgeMetrics;
  private health?: HealthServer;
  private phase: 'starting' | 'ready' | 'stopping' = 'starting';
  private storeOpen = false;
  private models = new Map<string, DeviceModel>();
  private devices: DeviceInstance[] = [];
  private manifests?: ManifestLoad;
  private stopping?: Promise<void>;

  constructor(opts: EdgeCoreOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
  }

  get brokerUrl(): string {
    if (!this.broker) throw new Error('edgetwin is not started');
    return this.broker.url;
  }

  get twin(): DeviceTwin {
    if (!this.twinModule) throw new Error('edgetwin is not started');
    return this.twinModule;
  }

  /** Cloud sync, when `cloud.kubeconfig` is set (its health() is for metrics and readiness). */
  get cloudSync(): CloudSync | undefined {
    return this.cloud;
  }

  get bus(): EmbeddedBroker {
    if (!this.broker) throw new Error('edgetwin is not started');
    return this.broker;
  }

  /** `http://host:port` of /metrics, /healthz and /readyz; undefined when off or not listening. */
  get metricsUrl(): string | undefined {
    return this.health?.url;
  }

  /** How clients authenticate and where TLS listens, for the ready line (docs/security.md). */
  get security(): string {
    const tls = this.config.mqtt.tls;
    const tlsUrl = this.broker?.tlsUrl;
    const auth = this.auth?.describe() ?? 'auth: not started';
    return tls && tlsUrl ? `${auth}, tls ${tlsUrl} (client certificates ${tls.clientCertificates})` : auth;
  }

  get storePath(): string {
    return path.join(this.config.dataDir, 'edgetwin.db');
  }

  async start(): Promise<StartupReport> {
    const { config, logger } = this;
    const problems: EdgetwinError[] = [];

    const modelPaths = [...(config.bundledModels ? [BUNDLED_MODELS_DIR] : []), ...config.models];
    const loaded = loadModels(modelPaths);
    this.models = loaded.models;
    problems.push(...loaded.errors);
    // Many manifests are parsed in a worker while the store loads here (edgecore/manifests.ts).
    // …and a restart with unchanged manifests skips parsing them (edgecore/manifest-cache.ts).
    this.manifests = loadManifests(config.devices, modelPaths, this.models, undefined, {
      file: path.join(config.dataDir, 'manifests.cache.json'),
      version: VERSION,
    });
    for (const p of problems) logProblem(logger, 'warn', p, {}, 'skipped: ');
    // Auth and TLS settings are checked before anything listens: a bad one refuses the start.
    const { auth: authConfig, tls, limits } = config.mqtt;
    this.auth = new BrokerAuth({
      nodeName: config.nodeName,
      registry: { protocolOf: (id) => this.twinModule?.protocolOf(id) },
      logger: logger.child({ module: 'auth' }),
      anonymousRole: authConfig.anonymousRole,
      plainHost: config.mqtt.host,
      ...(authConfig.usersFile !== undefined ? { usersFile: authConfig.usersFile } : {}),
      ...(authConfig.anonymous !== undefined ? { anonymous: authConfig.anonymous } : {}),
      ...(tls ? { clientCertificates: tls.clientCertificates } : {}),
    });
    this.auth.start();
    const tlsListener = tls ? { host: tls.host ?? config.mqtt.host, port: tls.port, options: loadTlsOptions(tls) } : undefined;
    if (config.metrics.enabled) await this.startMetrics();

    this.store = new SqliteTwinStore({
      path: this.storePath,
      synchronous: config.store.synchronous,
      logger: logger.child({ module: 'store' }),
      onCommit: this.metrics?.commitObserver,
    });
    this.broker = new EmbeddedBroker({
      host: config.mqtt.host,
      port: config.mqtt.port,
      maxPayloadBytes: Math.max(config.mqtt.maxPacketBytes, config.mqtt.maxPayloadBytes),
      logger: logger.child({ module: 'eventbus' }),
      authenticate: this.auth.authenticate,
      onClientClose: this.auth.clientClosed,
      maxPacketBytes: config.mqtt.maxPacketBytes,
      maxConnections: limits.maxConnections,
      maxInflightPerClient: limits.maxInflightPerClient,
      maxConnectBytes: limits.maxConnectBytes,
      connectTimeoutMs: limits.connectTimeoutMs,
      maxOutgoingBytesPerClient: limits.maxOutgoingBytesPerClient,
      outgoingStallMs: limits.outgoingStallMs,
      maxSubscriptionsPerClient: limits.maxSubscriptionsPerClient,
      maxRetainedMessages: limits.maxRetainedMessages,
      maxRetainedBytes: limits.maxRetainedBytes,
      ...(tlsListener ? { tls: tlsListener } : {}),
    });
    // Limits first (cheap, and they bound what the ACL is asked), then the ACL.
    this.limiter = new ClientLimiter({ ...limits, logger: logger.child({ module: 'eventbus' }) });
    this.limiter.install(this.broker);
    this.auth.install(this.broker);
    this.twinModule = new DeviceTwin({
      bus: this.broker,
      store: this.store,
      nodeName: config.nodeName,
      logger: logger.child({ module: 'devicetwin' }),
      limits: { maxPayloadBytes: config.mqtt.maxPayloadBytes, maxDepth: 16, maxTwinsPerMessage: limits.maxTwinsPerMessage },
      deviceLimits: limits,
      ...(this.auth.restrictsChanges ? { authorizeChange: this.auth.authorizeChange } : {}),
      observer: this.metrics?.twinObserver,
      answerQos: config.mqtt.answerQos,
    });
    try {
      await this.twinModule.start();
      this.storeOpen = true;
      await this.broker.start();
      const devs = await this.manifests.result;
      this.devices = devs.devices;
      problems.push(...devs.errors);
      for (const p of devs.errors) logProblem(logger, 'warn', p, {}, 'skipped: ');
      for (const d of this.devices) logDeviceWarnings(logger, d);
      const declared = this.devices.map((instance) => ({ instance, model: this.models.get(instance.model)! }));
      await this.twinModule.setDevices(declared);
      // Devices over mqtt.limits get no twin: they are reported, and no mapper serves them.
      problems.push(...this.twinModule.refusals());
      const bound = declared.filter((d) => this.twinModule!.get(d.instance.id) !== undefined);
      this.twinModule.listen();
      const { bluetoothAdapter, enabled } = config.mappers;
      if (config.simulate.length > 0 || (enabled.includes('bluetooth') && bluetoothAdapter === 'simulated')) {
        const { startSimulation } = await import('./simulation.js');
        this.simulation = await startSimulation(config.simulate, bound, logger.child({ module: 'simulators' }), { bluetoothAdapter });
        problems.push(...this.simulation.problems);
        for (const p of this.simulation.problems) logProblem(logger, 'warn', p, {}, 'not simulated: ');
      }
      const factories = this.mapperFactories();
      if (factories.length > 0) {
        this.mapperRuntime = new MapperRuntime({
          bus: this.broker,
          factories,
          logger: logger.child({ module: 'mappers' }),
          timeoutMs: config.mappers.timeoutMs,
          offlineAfter: config.mappers.offlineAfter,
          resyncMs: config.mappers.resyncMs,
          onPoll: this.metrics?.pollObserver,
        });
        problems.push(...(await this.mapperRuntime.setDevices(bound)));
      }
      // After the twin and mappers: cluster devices join the manifests' (the cluster's copy wins
      // for the same <ns>/<name>), and in-process mappers serve them too.
      const cloudsync = config.cloud.kubeconfig === undefined ? undefined : await import('../cloudsync/index.js');
      const cloudOpts = cloudsync?.cloudSyncOptionsFromConfig(config, {
        twin: this.twinModule,
        logger: logger.child({ module: 'cloudsync' }),
        localModels: this.models,
        onDevices: async (cluster) => {
          const ids = new Set(cluster.map((d) => d.instance.id));
          const all = [...bound.filter((d) => !ids.has(d.instance.id)), ...cluster];
          // Each problem is logged by the runtime itself, with its device (mappers/sdk/runtime.ts).
          await this.mapperRuntime?.setDevices(all);
        },
      });
      if (cloudsync && cloudOpts) {
        this.cloud = new cloudsync.CloudSync(cloudOpts);
        await this.cloud.start();
      }
    } catch (err) {
      // A step that fails to stop is logged by doStop; the start's own error is the one to report.
      await this.stop().catch(() => undefined);
      throw err;
    }
    this.phase = 'ready';
    return { models: this.models.size, devices: this.devices.length, problems };
  }

  /**
   * Serves /metrics, /healthz and /readyz from the start, so a probe sees "not ready" during a
   * long start-up. A taken port is a warning, not a failed start: devices must keep being served
   * when a monitoring port collides (9464 is also OpenTelemetry's Prometheus exporter default).
   */
  private async startMetrics(): Promise<void> {
    const { host, port } = this.config.metrics;
    const metrics = new EdgeMetrics({
      broker: () => this.broker?.stats(),
      auth: () => this.auth?.stats(),
      twin: () => this.twinModule,
      mappers: () => this.mapperStatus(),
      cloudSync: () => this.cloud,
    });
    const health = new HealthServer({
      host,
      port,
      logger: this.logger.child({ module: 'metrics' }),
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
      readiness: () => this.readiness(),
    });
    this.metrics = metrics;
    try {
      await health.start();
      this.health = health;
      this.logger.info({ url: health.url }, 'metrics and health listening');
    } catch (err) {
      const e = toEdgetwinError(err, 'EDGETWIN_ERR_METRICS_LISTEN');
      logProblem(this.logger, 'warn', e, {}, 'running without /metrics and /healthz: ');
    }
  }

  /** /readyz: start-up done, store open (last commit ok), broker listening; cloud sync shown. */
  readiness(): Readiness {
    let broker = { ok: false, detail: 'not listening' };
    try {
      if (this.broker && this.phase !== 'stopping') broker = { ok: true, detail: this.broker.url };
    } catch {
      // not listening yet (url throws)
    }
    const failing = this.metrics?.storeFailing;
    const store = !this.storeOpen ? { ok: false, detail: 'not open' } : failing ? { ok: false, detail: `last commit failed: ${failing}` } : { ok: true, detail: 'open' };
    // An edge node serves its devices without the cloud (that is its point), so only a stopped
    // cloud sync fails readiness; starting and degraded are reported, not failed.
    const cloudState = this.cloud?.health().state ?? 'off';
    const checks = {
      startup: { ok: this.phase === 'ready', detail: this.phase },
      store,
      broker,
      cloudSync: { ok: cloudState !== 'stopped', detail: cloudState },
    };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  /** The mappers that run in this process (config `mappers.enabled`). */
  private mapperFactories(): MapperFactory[] {
    const { enabled, bluetoothAdapter } = this.config.mappers;
    const simulated = this.simulation?.bluetooth;
    // The Bluetooth mapper is the same code either way; only the adapter beneath noble differs.
    const bluetooth = (): MapperFactory => {
      if (bluetoothAdapter === 'hci' || !simulated) return bluetoothMapper;
      return createBluetoothMapper({ noble: simulated.noble });
    };
    return enabled.map((p) => (p === 'bluetooth' ? bluetooth() : modbusMapper));
  }

  /** Devices served by in-process mappers: availability, failures, queue depth. */
  mapperStatus(): ReturnType<MapperRuntime['status']> {
    return this.mapperRuntime?.status() ?? [];
  }

  /** Stops everything in reverse order; idempotent and safe after a failed start. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.phase = 'stopping';
    // From here on MQTT clients' publishes are refused (connection closed, no PUBACK): the twin
    // stops next, and a PUBACK must never go out for a change it will not commit.
    this.limiter?.close();
    await this.manifests?.cancel();
    const errors: unknown[] = [];
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
        this.logger.error({ err }, `stopping ${what} failed`);
      }
    };
    // Cloud sync started last (it feeds cluster devices to the mappers): it stops first.
    if (this.cloud) await step('cloudsync', () => this.cloud!.stop());
    if (this.mapperRuntime) await step('mappers', () => this.mapperRuntime!.stop());
    if (this.simulation) await step('simulators', () => this.simulation!.close());
    if (this.twinModule) await step('devicetwin', () => this.twinModule!.stop());
    if (this.broker) await step('broker', () => this.broker!.close());
    this.auth?.stop();
    if (this.store) await step('store', () => this.store!.close());
    this.storeOpen = false;
    // Last, so /readyz answers "stopping" while the rest shuts down.
    if (this.health) await step('metrics', () => this.health!.close());
    if (errors.length > 0) throw errors[0];
  }
}

/** A device's coded load warnings (fields edgetwin does not implement), one line each. */
function logDeviceWarnings(logger: Logger, device: DeviceInstance): void {
  for (const w of device.warnings ?? []) logger.warn({ code: w.code, device: device.id, path: w.path }, `device ${device.id}: ${w.path ?? ''}: ${w.message}`);
}
