// The in-process mappers of `edgetwin run`, read from the protocol registry
// (mappers/registry.ts): load `mappers.plugins` into it, start the `simulate:` devices with each
// protocol's simulator, then one MapperRuntime over the bus for the protocols of
// `mappers.enabled` and of the plugins. Every problem is coded, logged where it is found, and
// returned; what fails is skipped and the node serves the rest.

import type { Logger } from 'pino';
import { edgetwinError, type EdgetwinError } from '../errors.js';
import type { Bus } from '../eventbus/index.js';
import { loadPlugins, MapperRuntime, ProtocolRegistry, type BoundDeviceInput, type MapperFactory, type PollReport, type SimulatedDeviceInput, type SimulatedDevices } from '../mappers/index.js';
import { suggestion, type EdgetwinConfig } from '../schemas/index.js';
import { logProblem } from './logger.js';

export interface InProcessMappersOptions {
  readonly config: EdgetwinConfig;
  readonly logger: Logger;
  readonly bus: Bus;
  readonly onPoll?: (poll: PollReport) => void;
}

export class InProcessMappers {
  private readonly o: InProcessMappersOptions;
  readonly registry = new ProtocolRegistry();
  private runtime?: MapperRuntime;
  private readonly simulations: SimulatedDevices[] = [];
  private enabled: string[] = [];

  constructor(options: InProcessMappersOptions) {
    this.o = options;
  }

  /** The protocols mapped in this process (DMI mappers may not register them: dmi/edge.ts). */
  get protocols(): readonly string[] {
    return this.enabled;
  }

  /** True when some protocol is mapped here (else setDevices does nothing). */
  get running(): boolean {
    return this.runtime !== undefined;
  }

  /**
   * Loads the plugins, starts the simulated devices among `bound`, and creates the runtime.
   * Never rejects for a plugin or a device: each problem is returned (and logged).
   */
  async start(bound: readonly BoundDeviceInput[]): Promise<EdgetwinError[]> {
    const { config, logger } = this.o;
    const problems: EdgetwinError[] = [];
    const report = (e: EdgetwinError, prefix = 'skipped: '): void => {
      problems.push(e);
      logProblem(logger.child({ module: 'mappers' }), 'warn', e, {}, prefix);
    };
    const plugins = await loadPlugins(config.mappers.plugins, this.registry);
    for (const p of plugins.problems) report(p, 'mapper plugin skipped: ');
    for (const e of plugins.entries) logger.child({ module: 'mappers' }).info({ protocol: e.name, plugin: e.source }, `mapper plugin ${e.source} loaded: protocol ${e.name}`);

    const overrides = await this.startSimulations(bound, (e) => problems.push(e));
    const names = [...new Set([...config.mappers.enabled, ...plugins.entries.map((e) => e.name)])];
    const factories: MapperFactory[] = [];
    for (const name of names) {
      const entry = this.registry.get(name);
      if (!entry || entry.name !== name) {
        report(edgetwinError('EDGETWIN_ERR_MAPPER_UNKNOWN', `mappers.enabled: no mapper for protocol "${name}"${suggestion(name, this.registry.names())} (available: ${this.registry.names().join(', ')})`));
        continue;
      }
      factories.push(overrides.get(name) ?? entry.plugin.factory);
    }
    this.enabled = factories.map((f) => f.protocol);
    if (factories.length > 0) {
      this.runtime = new MapperRuntime({
        bus: this.o.bus,
        factories,
        logger: logger.child({ module: 'mappers' }),
        timeoutMs: config.mappers.timeoutMs,
        offlineAfter: config.mappers.offlineAfter,
        resyncMs: config.mappers.resyncMs,
        ...(this.o.onPoll ? { onPoll: this.o.onPoll } : {}),
      });
    }
    return problems;
  }

  /**
   * `simulate:` devices, each started by its protocol's simulator; returns the factories of
   * simulators beneath the driver (a simulated radio), which replace their protocol's own.
   */
  private async startSimulations(bound: readonly BoundDeviceInput[], problem: (e: EdgetwinError) => void): Promise<Map<string, MapperFactory>> {
    const { config } = this.o;
    const logger = this.o.logger.child({ module: 'simulators' });
    const report = (ids: readonly string[], e: EdgetwinError): void => {
      problem(e);
      logger.warn({ code: e.code, devices: ids, details: e.details }, `simulated ${ids.join(', ') || 'device'} not started: ${e.message}`);
    };
    const byId = new Map(bound.map((d) => [d.instance.id, d]));
    const listed = new Map<string, SimulatedDeviceInput[]>();
    for (const id of config.simulate) {
      const d = byId.get(id);
      // The sentence edgecore/check.ts gives it too.
      if (!d) {
        report([id], edgetwinError('EDGETWIN_ERR_MANIFEST_INVALID', `simulate: no loaded device ${id}${suggestion(id, byId.keys())}`));
        continue;
      }
      const protocol = d.instance.protocol?.protocolName;
      const entry = protocol === undefined ? undefined : this.registry.get(protocol);
      if (!entry?.plugin.simulator) {
        report([id], edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: ${id} uses protocol "${protocol ?? 'none'}", which has no simulator`));
        continue;
      }
      listed.set(entry.name, [...(listed.get(entry.name) ?? []), d]);
    }
    // mappers.bluetoothAdapter predates the registry: it says whether the radio beneath the
    // Bluetooth mapper is the host's or the simulated one (which then also carries the devices
    // of no `simulate` entry: none answers until listed).
    const simulatedRadio = (name: string): boolean | undefined => (name === 'bluetooth' ? config.mappers.bluetoothAdapter === 'simulated' : undefined);
    const overrides = new Map<string, MapperFactory>();
    for (const entry of this.registry.list()) {
      const simulator = entry.plugin.simulator;
      if (!simulator) continue;
      const devices = listed.get(entry.name) ?? [];
      const radio = simulator.beneathDriver ? simulatedRadio(entry.name) : undefined;
      if (radio === false) {
        if (devices.length > 0) {
          const ids = devices.map((d) => d.instance.id);
          report(ids, edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: BLE devices (${ids.join(', ')}) need mappers.bluetoothAdapter: simulated`));
        }
        continue;
      }
      if (devices.length === 0 && !(radio === true && config.mappers.enabled.includes(entry.name))) continue;
      try {
        const sim = await simulator.start(devices, { logger, now: Date.now });
        this.simulations.push(sim);
        for (const e of sim.problems ?? []) problem(e);
        if (sim.factory) overrides.set(entry.name, sim.factory);
        logger.debug({ protocol: entry.name }, sim.description);
      } catch (err) {
        const ids = devices.map((d) => d.instance.id);
        report(ids, edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: the ${entry.name} simulator did not start: ${err instanceof Error ? err.message : String(err)}`, [], err));
      }
    }
    return overrides;
  }

  /** Serves exactly these devices (those of protocols not mapped here are ignored). */
  setDevices(devices: readonly BoundDeviceInput[]): Promise<EdgetwinError[]> {
    return this.runtime ? this.runtime.setDevices(devices) : Promise.resolve([]);
  }

  status(): ReturnType<MapperRuntime['status']> {
    return this.runtime?.status() ?? [];
  }

  /** The runtime first (its drivers talk to the simulated devices), then the simulators. */
  async stop(): Promise<void> {
    await this.runtime?.stop();
    const sims = this.simulations.splice(0);
    await Promise.all(sims.map((s) => s.close()));
  }
}
