// The composition root: builds every module from the config and starts and stops them in
// order. Start: data dir → HTTP server → store → models and devices → twin → broker → serve topics →
// simulated devices → in-process mappers. Stop: the reverse, with in-flight commits flushed
// before the store closes; a stop during start-up ends it at its next step. reload() re-reads
// models and manifests while running.

import path from 'node:path';
import type { Logger } from 'pino';
import { edgetwinError, type EdgetwinError } from '../errors.js';
// Cloud sync and the simulators are imported when configured: @kubernetes/client-node alone
// costs ~0.6 s of start-up and ~50 MB resident on a node that does not sync (docs/benchmarks.md).
import type { CloudSync } from '../cloudsync/index.js';
import type { DmiEdge } from '../dmi/index.js';
import { DeviceTwin, SqliteTwinStore, type TwinStore } from '../devicetwin/index.js';
import { BridgedBus, BrokerAuth, ClientLimiter, EmbeddedBroker, loadTlsOptions, type Bus, type ExternalBus, type IngestBus } from '../eventbus/index.js';
import { backoffMs, type BoundDeviceInput, type MapperRuntime } from '../mappers/index.js';
import { InProcessMappers } from './mappers.js';
import { brokerAuthFromConfig } from './auth-config.js';
import { DataDir } from './data-dir.js';
import type { EdgeMetrics } from './metrics.js';
import { startHttp } from './http-wiring.js';
import { PrometheusTelemetry } from './prometheus-telemetry.js';
import type { HttpServer, Readiness } from './http/index.js';
import { readinessOf } from './readiness.js';
import { HistoryResponder, historyPolicy, type PushTelemetry, type SinkStats } from '../telemetry/index.js';
import { externalBusFromConfig } from './external.js';
import { watchModelsAndManifests, type FileWatch } from './file-watch.js';
import { logDeviceWarnings, logProblem } from './logger.js';
import { loadManifests, type ManifestLoad } from './manifests.js';
import { VERSION } from './version.js';
import type { ConsoleApi } from './console.js';
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
  /** mqtt.mode external or both: the twin's client of the outside broker. */
  private external?: ExternalBus;
  private bridge?: BridgedBus;
  private auth?: BrokerAuth;
  private limiter?: ClientLimiter;
  private twinModule?: DeviceTwin;
  private cloud?: CloudSync;
  private dmi?: DmiEdge;
  /** Plugins, simulated devices and the in-process mapper runtime (edgecore/mappers.ts). */
  private mappers?: InProcessMappers;
  private metrics?: EdgeMetrics;
  private http?: HttpServer;
  private historyResponder?: HistoryResponder;
  /** Device values on /metrics and remote write (edgecore/prometheus-telemetry.ts). */
  private prometheus?: PrometheusTelemetry;
  /** KubeEdge pushMethod/dbMethod sinks behind the durable outbox (telemetry/push.ts). */
  private pushTelemetry?: PushTelemetry;
  /** The web console and the HTTP API it uses (edgecore/console.ts). */
  private consoleApi?: ConsoleApi;
  private phase: 'starting' | 'ready' | 'stopping' = 'starting';
  private storeOpen = false;
  private dataDir?: DataDir;
  /** Shared with cloud sync (cluster devices may use local models): reload() updates it in place. */
  private readonly models = new Map<string, DeviceModel>();
  private devices: DeviceInstance[] = [];
  /** Manifest devices the twin bound, and the cluster's (cloud sync): what in-process mappers serve. */
  private bound: BoundDeviceInput[] = [];
  private cluster: BoundDeviceInput[] = [];
  /** Mapper updates one at a time: the runtime's setDevices is not re-entrant. */
  private mapperSync: Promise<unknown> = Promise.resolve();
  private reloading?: Promise<StartupReport>;
  private reloadAgain = false;
  private fileWatch?: FileWatch;
  private manifests?: ManifestLoad;
  private startup?: Promise<StartupReport>;
  private shutdown?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(opts: EdgeCoreOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
  }

  /** The embedded broker's URL; in external mode, the external broker's (without its password). */
  get brokerUrl(): string {
    if (this.broker) return this.broker.url;
    if (this.external) return this.external.url;
    throw new Error('edgetwin is not started');
  }

  /** Whether models and manifests reload by themselves when their files change (config `watch`). */
  get watchingFiles(): boolean {
    return this.fileWatch !== undefined;
  }

  /** The outside broker's client (mqtt.mode external or both). */
  get externalBus(): ExternalBus | undefined {
    return this.external;
  }

  /** The pushMethod/dbMethod sinks and their outbox backlog (docs/telemetry.md); [] when none runs. */
  sinkStats(): SinkStats[] {
    return this.pushTelemetry?.stats() ?? [];
  }

  get twin(): DeviceTwin {
    if (!this.twinModule) throw new Error('edgetwin is not started');
    return this.twinModule;
  }

  /** Cloud sync, when `cloud.kubeconfig` is set (its health() is for metrics and readiness). */
  get cloudSync(): CloudSync | undefined {
    return this.cloud;
  }

  /** The embedded broker (not in external mode: see `twinBus`). */
  get bus(): EmbeddedBroker {
    if (!this.broker) throw new Error('edgetwin is not started');
    return this.broker;
  }

  /** The bus the twin and in-process mappers use: the embedded broker, or the external one in external mode. */
  get mapperBus(): Bus {
    const bus = this.broker ?? this.external;
    if (!bus) throw new Error('edgetwin is not started');
    return bus;
  }

  /** `http://host:port` of the HTTP server (/metrics, /healthz, /readyz, /api/v1); undefined when off or not listening. */
  get httpUrl(): string | undefined {
    return this.http?.url;
  }

  /** The same as {@link httpUrl} (the name from before the HTTP API). */
  get metricsUrl(): string | undefined {
    return this.http?.url;
  }

  /** How clients authenticate and where TLS listens, for the ready line (docs/security.md). */
  get security(): string {
    if (this.config.mqtt.mode === 'external') return "auth: the external broker's (docs/external-broker.md)";
    const tls = this.config.mqtt.tls;
    const tlsUrl = this.broker?.tlsUrl;
    const auth = this.auth?.describe() ?? 'auth: not started';
    const local = tls && tlsUrl ? `${auth}, tls ${tlsUrl} (client certificates ${tls.clientCertificates})` : auth;
    return this.external ? `${local}; external broker ${this.external.url}: its own auth` : local;
  }

  /** The DMI socket edgetwin serves (config dmi.socket), once listening. */
  get dmiSocket(): string | undefined {
    return this.dmi?.health().socket;
  }

  get storePath(): string {
    return path.join(this.config.dataDir, 'edgetwin.db');
  }

  /** Starts everything; rejects with a coded error (after undoing what it started) if any step fails. */
  start(): Promise<StartupReport> {
    if (this.startup) return Promise.reject(edgetwinError('EDGETWIN_ERR_INTERNAL', 'edgetwin was already started'));
    this.startup = this.doStart();
    return this.startup;
  }

  private async doStart(): Promise<StartupReport> {
    try {
      return await this.startSteps();
    } catch (err) {
      await this.shutdownOnce();
      throw err;
    }
  }

  /** Between start-up steps: a stop() requested meanwhile ends the start here. */
  private step(): void {
    if (this.stopping) throw edgetwinError('EDGETWIN_ERR_INTERNAL', 'start-up cancelled: edgetwin was asked to stop');
  }

  private async startSteps(): Promise<StartupReport> {
    const { config, logger } = this;
    const problems: EdgetwinError[] = [];
    // First: a data dir edgetwin cannot use, or one another edgetwin runs on, refuses the start
    // before anything listens or reads a manifest.
    this.dataDir = DataDir.open(config.dataDir);

    const loaded = loadModels(this.modelPaths());
    for (const [name, model] of loaded.models) this.models.set(name, model);
    problems.push(...loaded.errors);
    this.manifests = this.readManifests(this.models);
    for (const p of problems) logProblem(logger, 'warn', p, {}, 'skipped: ');
    // Auth and TLS settings are checked before anything listens: a bad one refuses the start.
    // In external mode there is no broker here: MQTT authentication and ACLs are the external
    // one's, and the users file serves the HTTP API alone.
    const { auth: authConfig, tls, limits, mode } = config.mqtt;
    const embedded = mode !== 'external';
    if (!embedded && (authConfig.usersFile !== undefined || tls)) {
      logger.warn('in external mode mqtt.auth serves only the HTTP API and mqtt.tls is unused: MQTT clients authenticate with the external broker (see `edgetwin acl mosquitto`)');
    }
    const auth = brokerAuthFromConfig(config, { protocolOf: (id) => this.twinModule?.protocolOf(id) }, logger.child({ module: 'auth' }));
    this.auth = auth;
    auth.start();
    const tlsListener = embedded && tls ? { host: tls.host ?? config.mqtt.host, port: tls.port, options: loadTlsOptions(tls) } : undefined;
    if (config.http.enabled) await this.startHttp(auth);
    this.prometheus = new PrometheusTelemetry({ config, logger: logger.child({ module: 'telemetry' }), metrics: this.metrics, twin: () => this.twinModule });
    this.prometheus.start();
    this.step();

    const history = historyPolicy(config.history);
    this.store = new SqliteTwinStore({
      path: this.storePath,
      synchronous: config.store.synchronous,
      pragmas: config.store.pragmas,
      logger: logger.child({ module: 'store' }),
      onCommit: this.metrics?.commitObserver,
      history,
      onMaintain: this.metrics?.maintenanceObserver,
    });
    if (embedded) {
      this.broker = new EmbeddedBroker({
        host: config.mqtt.host,
        port: config.mqtt.port,
        maxPayloadBytes: Math.max(config.mqtt.maxPacketBytes, config.mqtt.maxPayloadBytes),
        logger: logger.child({ module: 'eventbus' }),
        authenticate: auth.authenticate,
        onClientClose: auth.clientClosed,
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
      auth.install(this.broker);
    }
    if (mode !== 'embedded') this.external = externalBusFromConfig(config, logger.child({ module: 'eventbus', broker: 'external' }));
    if (this.broker && this.external) {
      this.bridge = new BridgedBus({ local: this.broker, remote: this.external, logger: logger.child({ module: 'eventbus' }), forwardQos: config.mqtt.answerQos });
    }
    const twinBus: IngestBus = this.bridge ?? this.broker ?? this.external!;
    this.twinModule = new DeviceTwin({
      bus: twinBus,
      answerQos: config.mqtt.answerQos,
      store: this.store,
      nodeName: config.nodeName,
      logger: logger.child({ module: 'devicetwin' }),
      limits: { maxPayloadBytes: config.mqtt.maxPayloadBytes, maxDepth: 16, maxTwinsPerMessage: limits.maxTwinsPerMessage },
      deviceLimits: limits,
      ...(embedded && auth.restrictsChanges ? { authorizeChange: auth.authorizeChange } : {}),
      observer: this.metrics?.twinObserver,
      history,
    });
    this.historyResponder = new HistoryResponder({ bus: twinBus, twin: this.twinModule, logger: logger.child({ module: 'telemetry' }) });
    await this.twinModule.start();
    this.consoleApi?.attach(this.twinModule);
    this.storeOpen = true;
    this.step();
    // The twin owns its topics before any broker listens, holding what arrives until the
    // manifests' devices are bound: a QoS 1 update in that window is neither dropped nor
    // PUBACKed before it is committed (a broker acknowledges a message no handler owns).
    let devicesBound!: () => void;
    this.twinModule.listen({ until: new Promise<void>((resolve) => (devicesBound = resolve)) });
    // The external broker first: until it is reached (retried with backoff, however long),
    // nothing is served and /readyz says why. In both mode local clients wait too, so none
    // has a message acknowledged before the twin listens.
    if (this.external) await this.external.start();
    this.step();
    if (this.broker) await this.broker.start();
    await this.bridge?.start();
    this.step();
    const devs = await this.manifests.result;
    this.step();
    problems.push(...(await this.bindManifests(devs)));
    devicesBound();
    this.step();
    this.historyResponder.start();
    // pushMethod/dbMethod sinks and remote write, behind the outbox (docs/telemetry.md).
    this.pushTelemetry = this.prometheus.pushTelemetry(this.twinModule);
    this.pushTelemetry.start(this.bound);
    // Ready means the broker has granted the QoS 1 subscriptions: from here on it queues for us.
    await this.external?.subscribed();
    this.step();
    this.mappers = new InProcessMappers({ config, logger, bus: this.mapperBus, onPoll: (poll) => {
        this.metrics?.pollObserver(poll);
        this.consoleApi?.observePoll(poll);
      } });
    problems.push(...(await this.mappers.start(this.bound)));
    this.step();
    if (this.mappers.running) {
      problems.push(...(await this.syncMappers()));
      this.step();
    }
    if (config.dmi.socket !== undefined) {
      await this.startDmi(this.bound);
      this.step();
    }
    // After the twin and mappers: cluster devices join the manifests' (the cluster's copy wins
    // for the same <ns>/<name>), and in-process mappers serve them too.
    const cloudsync = config.cloud.kubeconfig === undefined ? undefined : await import('../cloudsync/index.js');
    const cloudOpts = cloudsync?.cloudSyncOptionsFromConfig(config, {
      twin: this.twinModule,
      logger: logger.child({ module: 'cloudsync' }),
      localModels: this.models,
      onDevices: async (cluster) => {
        this.cluster = [...cluster];
        // Each problem is logged by the runtime itself, with its device (mappers/sdk/runtime.ts).
        await this.syncMappers();
      },
    });
    if (cloudsync && cloudOpts) {
      this.cloud = new cloudsync.CloudSync(cloudOpts);
      await this.cloud.start();
      this.step();
    }
    this.phase = 'ready';
    // A model or manifest file changed (config `watch`): the same reload as SIGHUP.
    if (config.watch) this.fileWatch = watchModelsAndManifests(config, logger, () => (this.phase === 'ready' ? this.reload() : undefined));
    return { models: this.models.size, devices: this.devices.length, problems };
  }

  /**
   * Re-reads models and manifests with the same validation as start(), then binds, unbinds and
   * updates devices through the twin's and the mapper runtime's setDevices: a removed device
   * leaves the node (membership/updated), a changed one is restarted, the others carry on. A
   * device the cluster also declares keeps the cluster's copy. Simulated devices and the config
   * file are not re-read. Calls made while one runs are folded into one more run after it.
   */
  reload(): Promise<StartupReport> {
    if (this.phase !== 'ready') return Promise.reject(edgetwinError('EDGETWIN_ERR_INTERNAL', `cannot reload while ${this.phase}`));
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    const run = async (): Promise<StartupReport> => {
      try {
        let report: StartupReport;
        do {
          this.reloadAgain = false;
          report = await this.reloadOnce();
        } while (this.reloadAgain && this.phase === 'ready');
        return report;
      } finally {
        this.reloading = undefined;
      }
    };
    this.reloading = run();
    return this.reloading;
  }

  private async reloadOnce(): Promise<StartupReport> {
    const { logger } = this;
    const loaded = loadModels(this.modelPaths());
    const problems: EdgetwinError[] = [...loaded.errors];
    for (const p of loaded.errors) logProblem(logger, 'warn', p, {}, 'skipped: ');
    // An unchanged model keeps its object, so the devices that use it are not restarted.
    const models = new Map<string, DeviceModel>();
    for (const [name, model] of loaded.models) {
      const old = this.models.get(name);
      models.set(name, old !== undefined && JSON.stringify(old.schema) === JSON.stringify(model.schema) ? old : model);
    }
    this.manifests = this.readManifests(models);
    const devs = await this.manifests.result;
    if (this.phase !== 'ready') throw edgetwinError('EDGETWIN_ERR_INTERNAL', 'reload cancelled: edgetwin is stopping');
    this.models.clear();
    for (const [name, model] of models) this.models.set(name, model);
    problems.push(...(await this.bindManifests(devs)));
    problems.push(...(await this.syncMappers()));
    const report = { models: this.models.size, devices: this.devices.length, problems };
    logger.info({ models: report.models, devices: report.devices, skipped: problems.length }, 'models and manifests reloaded');
    return report;
  }

  private modelPaths(): string[] {
    return [...(this.config.bundledModels ? [BUNDLED_MODELS_DIR] : []), ...this.config.models];
  }

  /**
   * Many manifests are parsed in a worker while the store loads here (edgecore/manifests.ts),
   * and a restart with unchanged manifests skips parsing them (edgecore/manifest-cache.ts).
   */
  private readManifests(models: ReadonlyMap<string, DeviceModel>): ManifestLoad {
    return loadManifests(this.config.devices, this.modelPaths(), models, undefined, {
      file: path.join(this.config.dataDir, 'manifests.cache.json'),
      version: VERSION,
    });
  }

  /** Binds the manifests' devices (origin `manifest`) to the twin; returns what was skipped. */
  private async bindManifests(devs: { readonly devices: DeviceInstance[]; readonly errors: EdgetwinError[] }): Promise<EdgetwinError[]> {
    const twin = this.twin;
    this.devices = devs.devices;
    for (const p of devs.errors) logProblem(this.logger, 'warn', p, {}, 'skipped: ');
    for (const d of this.devices) logDeviceWarnings(this.logger, d);
    const declared = this.devices.map((instance) => ({ instance, model: this.models.get(instance.model)! }));
    await twin.setDevices(declared);
    // Devices over mqtt.limits get no twin: they are reported, and no mapper serves them.
    this.bound = declared.filter((d) => twin.get(d.instance.id) !== undefined);
    return [...devs.errors, ...twin.refusals()];
  }

  /** Gives the in-process mappers the bound manifest devices and the cluster's (whose copy wins). */
  private syncMappers(): Promise<EdgetwinError[]> {
    const ids = new Set(this.cluster.map((d) => d.instance.id));
    const all = [...this.bound.filter((d) => !ids.has(d.instance.id)), ...this.cluster];
    // DMI mappers (docs/dmi.md) get the same devices, each by its protocol; never waited for.
    this.dmi?.setDevices(all);
    // So do the pushMethod/dbMethod sinks (telemetry/push.ts; errors are logged there).
    void this.pushTelemetry?.setDevices(all).catch(() => undefined);
    const runtime = this.mappers;
    if (!runtime?.running) return Promise.resolve([]);
    const next = this.mapperSync.then(() => runtime.setDevices(all));
    this.mapperSync = next.catch(() => undefined);
    return next;
  }

  /**
   * Serves /metrics, /healthz and /readyz from the start, so a probe sees "not ready" during a
   * long start-up, and the HTTP API once ready. A taken port is a warning, not a failed start:
   * devices must keep being served when a monitoring port collides (9464 is also
   * OpenTelemetry's Prometheus exporter default).
   */
  private async startHttp(auth: BrokerAuth): Promise<void> {
    const ready = (): DeviceTwin | undefined => (this.phase === 'ready' ? this.twinModule : undefined);
    const wiring = await startHttp({
      config: this.config,
      auth,
      logger: this.logger,
      twin: ready,
      readiness: () => this.readiness(),
      metrics: {
        broker: () => this.broker?.stats(),
        auth: () => this.auth?.stats(),
        twin: () => this.twinModule,
        mappers: () => this.mapperStatus(),
        cloudSync: () => this.cloud,
        external: () => this.external?.status(),
        dmi: () => this.dmi?.health(),
      },
      node: {
        version: VERSION,
        nodeName: this.config.nodeName,
        broker: () => (this.broker ? { url: this.brokerUrl, security: this.security, ...this.broker.stats() } : undefined),
        store: () => ({ path: this.storePath, open: this.storeOpen, failing: this.metrics?.storeFailing ?? null }),
        cloudSync: () => this.cloud?.health(),
        dmi: () => this.dmi?.health(),
        sinks: () => this.pushTelemetry?.sinkStatus() ?? [],
        readiness: () => this.readiness(),
      },
    });
    this.metrics = wiring.metrics;
    this.consoleApi = wiring.console;
    this.http = wiring.server;
  }

  /** /readyz (edgecore/readiness.ts). */
  readiness(): Readiness {
    let brokerUrl: string | undefined;
    try {
      brokerUrl = this.broker?.url;
    } catch {
      // not listening yet (url throws)
    }
    return readinessOf({
      phase: this.phase,
      mode: this.config.mqtt.mode,
      brokerUrl,
      storeOpen: this.storeOpen,
      storeFailing: this.metrics?.storeFailing ?? undefined,
      external: this.external?.status(),
      cloudState: this.cloud?.health().state ?? 'off',
      ...(this.config.dmi.socket !== undefined ? { dmi: this.dmi?.health() ?? 'configured' } : {}),
    });
  }

  /**
   * KubeEdge's DMI (docs/dmi.md): edgetwin serves DeviceManagerService for KubeEdge ≥ 1.15
   * mappers. Imported only when configured (grpc-js and the proto cost start-up time).
   */
  private async startDmi(bound: ReadonlyArray<{ instance: DeviceInstance; model: DeviceModel }>): Promise<void> {
    const { DmiEdge } = await import('../dmi/index.js');
    const { dmi, mappers, dataDir } = this.config;
    this.dmi = new DmiEdge({
      socketPath: dmi.socket!,
      dataDir,
      twin: this.twinModule!,
      bus: this.mapperBus,
      logger: this.logger.child({ module: 'dmi' }),
      inProcessProtocols: this.mappers?.protocols ?? mappers.enabled,
      callTimeoutMs: dmi.callTimeoutMs,
      graceMs: dmi.registerGraceMs,
      // The mapper runtime's backoff (one mechanism): 200 ms doubling to 30 s, jittered.
      retryDelay: (n) => backoffMs(n, { baseMs: 200, maxMs: 30_000, jitter: 0.5 }),
      ...(this.metrics ? { observer: this.metrics.dmiObserver } : {}),
    });
    this.dmi.setDevices(bound);
    await this.dmi.start();
  }

  /** Mappers that cannot be reached are shown, not failed: their devices are marked offline. */
  /** Devices served by in-process mappers: availability, failures, queue depth. */
  mapperStatus(): ReturnType<MapperRuntime['status']> {
    return this.mappers?.status() ?? [];
  }

  /**
   * Stops everything in reverse order; idempotent and safe after a failed start. During start()
   * it ends the start-up at its next step (start() then rejects) and undoes what it had started.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    // At once, as doStop does: /readyz says "stopping", and MQTT clients' publishes are refused.
    this.phase = 'stopping';
    this.limiter?.close();
    this.fileWatch?.close();
    // A start-up still waiting for the external broker (external mode waits as long as it
    // takes) is released at once: start() then rejects. Nothing was taken from a broker never
    // reached, so no acknowledgement is owed to it.
    if (this.external && !this.external.connected) this.external.close().catch((err: unknown) => this.logger.debug({ err }, 'closing the external broker client'));
    this.stopping = (async () => {
      // A start-up or reload waiting for the manifest worker is released at once.
      await this.manifests?.cancel();
      await this.startup?.catch(() => undefined);
      await this.reloading?.catch(() => undefined);
      await this.shutdownOnce();
    })();
    return this.stopping;
  }

  private shutdownOnce(): Promise<void> {
    this.shutdown ??= this.doStop();
    return this.shutdown;
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
    if (this.dmi) await step('dmi', () => this.dmi!.stop());
    if (this.mappers) await step('mappers and simulators', () => this.mappers!.stop());
    if (this.historyResponder) await step('telemetry', () => this.historyResponder!.stop());
    if (this.prometheus) await step('prometheus telemetry', () => this.prometheus!.stop());
    if (this.twinModule) await step('devicetwin', () => this.twinModule!.stop());
    // After the twin: every value it committed is queued before the outbox closes.
    if (this.pushTelemetry) await step('telemetry sinks', () => this.pushTelemetry!.stop());
    if (this.bridge) await step('bridge', () => this.bridge!.stop());
    if (this.broker) await step('broker', () => this.broker!.close());
    this.auth?.stop();
    // After the twin: the PUBACKs of everything it committed go out before the DISCONNECT.
    if (this.external) await step('external broker', () => this.external!.close());
    if (this.store) await step('store', () => this.store!.close());
    this.storeOpen = false;
    // Last, so /readyz answers "stopping" while the rest shuts down.
    this.consoleApi?.close();
    if (this.http) await step('http', () => this.http!.close());
    // Only now may another process take the data dir: every file in it is closed.
    this.dataDir?.release();
    if (errors.length > 0) throw errors[0];
  }
}
