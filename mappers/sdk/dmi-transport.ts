// The mapper runtime's third transport (after the in-process bus and MQTT): a DMI mapper, as
// KubeEdge ≥ 1.15 runs them, under edgecore or `edgetwin run --dmi-socket`. The same
// MapperRuntime and drivers; only the bus differs (dmi-bus.ts).
//
// Start-up follows mapper-framework (its _template/mapper/cmd/main.go; docs/dmi.md "Mapper
// start"), in a safer order: serve DeviceMapperService on our own socket first (so edgecore can
// call at once), then wait for edgecore's socket without giving up, register with MapperRegister
// within its 1 s deadline, and run the Devices the answer carries. Reports keep
// mapper-framework's cadence: every reading of a `reportToCloud` property goes to
// ReportDeviceStatus on each collectCycle (one call per device and cycle, not per property),
// states to ReportDeviceStates on each `stateReport.reportCycle` and on every change. Unlike
// mapper-framework, it registers again when the edge comes back after a loss, so an edge that
// lost its registrations (a new data dir) gets them back.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { edgetwinError, formatError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import {
  ACK_METADATA,
  callUnary,
  checkSocketPath,
  dmiServices,
  EDGETWIN_API_VERSION,
  fromServiceError,
  isRetryable,
  LOCAL_CHANNEL_OPTIONS,
  UnixGrpcServer,
  unixTarget,
  type PbMapperRegisterResponse,
  type PbTwin,
} from '../../dmi/index.js';
import { deviceTopic } from '../../eventbus/index.js';
import { DmiBus, type WorkerTwin } from './dmi-bus.js';
import { DmiDeviceBook, type HeldDevice } from './dmi-devices.js';
import { backoffMs, cycleMs, type BackoffOptions } from './policy.js';
import { MapperRuntime } from './runtime.js';
import type { MapperFactory } from './types.js';

export interface DmiMapperOptions {
  readonly factory: MapperFactory;
  /** edgecore's socket (mapper-framework `common.edgecore_sock`), e.g. /etc/kubeedge/dmi.sock. */
  readonly edgecoreSocket: string;
  /** This mapper's socket (`grpc_server.socket_path`), e.g. /etc/kubeedge/modbus.sock; sent as MapperInfo.address. */
  readonly mapperSocket: string;
  readonly logger: Logger;
  /** MapperInfo.name (default `edgetwin-<protocol>-mapper`) and version. */
  readonly name?: string;
  readonly version?: string;
  /** MapperRegister's deadline: mapper-framework's is 1 s. */
  readonly registerTimeoutMs?: number;
  /** ReportDeviceStatus/States deadline (mapper-framework: 1 s). */
  readonly reportTimeoutMs?: number;
  /** RegisterDevice waits this long for a model not yet given (mapper-framework: 3 × 1 s). */
  readonly modelWaitMs?: number;
  /** Waiting for edgecore's socket: backoff between tries. */
  readonly connectBackoff?: BackoffOptions;
  /** The runtime's own settings (per-request deadline, offline threshold, write attempts, backoff). */
  readonly timeoutMs?: number;
  readonly offlineAfter?: number;
  readonly writeAttempts?: number;
  readonly backoff?: BackoffOptions;
  /** Called once registered (and again on each re-registration) with the number of devices run. */
  readonly onRegistered?: (devices: number, problems: readonly EdgetwinError[]) => void;
}

interface Reporting {
  inFlight: boolean;
  /** Latest reading per property, waiting for the call in flight. */
  readings: Map<string, PbTwin>;
  /** Acks, in order; never coalesced away. */
  acks: PbTwin[];
}

export class DmiMapper {
  private readonly o: DmiMapperOptions;
  private readonly protocol: string;
  private readonly book: DmiDeviceBook;
  private readonly bus: DmiBus;
  private readonly runtime: MapperRuntime;
  private readonly server: UnixGrpcServer;
  private readonly edge: grpc.Client;
  private readonly mapperSocket: string;
  private readonly reporting = new Map<string, Reporting>();
  /** Last ack per device and property: sent again after a re-registration (it may have been lost). */
  private readonly lastAcks = new Map<string, Map<string, PbTwin>>();
  private readonly states = new Map<string, string>();
  private readonly stateTimers = new Map<string, NodeJS.Timeout>();
  private readonly abort = new AbortController();
  private applying: Promise<void> = Promise.resolve();
  private registered = false;
  private edgeLost = false;
  private registering?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(options: DmiMapperOptions) {
    this.o = options;
    this.protocol = options.factory.protocol;
    this.mapperSocket = checkSocketPath(options.mapperSocket, 'the mapper socket (--mapper-socket)');
    checkSocketPath(options.edgecoreSocket, "edgecore's socket (--dmi-socket)");
    this.book = new DmiDeviceBook(this.protocol, { apply: (id) => this.apply(id), desiredChanged: (held, changed) => this.desiredChanged(held, changed) }, options.modelWaitMs ?? 3000);
    this.bus = new DmiBus(
      {
        twinUpdate: (ns, name, twin) => this.onTwinUpdate(`${ns}/${name}`, twin),
        state: (ns, name, state) => this.onState(`${ns}/${name}`, state),
        snapshot: (ns, name) => this.snapshot(`${ns}/${name}`),
      },
      options.logger,
    );
    this.runtime = new MapperRuntime({
      bus: this.bus,
      factories: [options.factory],
      logger: options.logger.child({ module: 'mappers' }),
      reportEveryPoll: true,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.offlineAfter !== undefined ? { offlineAfter: options.offlineAfter } : {}),
      ...(options.writeAttempts !== undefined ? { writeAttempts: options.writeAttempts } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
    this.server = new UnixGrpcServer({
      socketPath: this.mapperSocket,
      what: 'the mapper socket (--mapper-socket)',
      service: dmiServices().mapper,
      handlers: this.book.handlers(),
      logger: options.logger,
    });
    this.edge = new grpc.Client(unixTarget(options.edgecoreSocket), grpc.credentials.createInsecure(), LOCAL_CHANNEL_OPTIONS);
  }

  /** Devices run now, with the runtime's view of each. */
  status(): ReturnType<MapperRuntime['status']> {
    return this.runtime.status();
  }

  get devices(): number {
    return this.book.devices.size;
  }

  /**
   * Serves our socket, waits for edgecore's (retrying with backoff until stop()), registers and
   * runs the devices it gives. Rejects with a coded error when edgecore refuses the registration
   * (mapper-framework exits then too) or the socket cannot be served.
   */
  async start(): Promise<void> {
    await this.server.start();
    await this.register();
    this.watchEdge();
  }

  /** Stops reporting, the devices and the socket; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.abort.abort();
    for (const t of this.stateTimers.values()) clearInterval(t);
    this.stateTimers.clear();
    await this.registering?.catch(() => undefined);
    await this.applying.catch(() => undefined);
    await this.runtime.stop();
    await this.server.close(500);
    this.edge.close();
  }

  // ---- registration -------------------------------------------------------------------------

  private register(): Promise<void> {
    this.registering = this.doRegister();
    return this.registering;
  }

  private async doRegister(): Promise<void> {
    const request = {
      withData: true,
      mapper: {
        name: this.o.name ?? `edgetwin-${this.protocol}-mapper`,
        version: this.o.version ?? '',
        // mapper-framework's template sends v1.0.0; the suffix tells an edgetwin edge it may
        // send nested configData (Struct). edgecore only stores it.
        api_version: EDGETWIN_API_VERSION,
        protocol: this.protocol,
        address: Buffer.from(this.mapperSocket),
        state: 'ok',
      },
    };
    const backoff = this.o.connectBackoff ?? { baseMs: 500, maxMs: 10_000, jitter: 0.2 };
    for (let attempt = 1; ; attempt++) {
      if (this.abort.signal.aborted) throw edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', 'stopped before edgecore answered MapperRegister');
      try {
        const res = await callUnary<PbMapperRegisterResponse>(this.edge, dmiServices().manager, 'MapperRegister', request, this.o.registerTimeoutMs ?? 1000);
        await this.adopt(res);
        return;
      } catch (err) {
        if (!isRetryable(err)) throw fromServiceError(err, `MapperRegister of the ${this.protocol} mapper with ${this.o.edgecoreSocket}`);
        if (attempt === 1) this.o.logger.info({ socket: this.o.edgecoreSocket }, "waiting for edgecore's DMI socket");
        await sleep(backoffMs(attempt, backoff), this.abort.signal);
      }
    }
  }

  /** A MapperRegister answer: exactly these models and devices from now on. */
  private async adopt(res: PbMapperRegisterResponse): Promise<void> {
    const problems = this.book.load(res.modelList ?? [], res.deviceList ?? []);
    for (const p of problems) this.o.logger.warn({ code: p.code }, `device not taken from MapperRegister: ${formatError(p)}`);
    await this.apply().catch((err: unknown) => problems.push(toEdgetwinError(err)));
    const again = this.registered;
    this.registered = true;
    this.o.logger.info({ devices: this.book.devices.size, again }, 'registered with edgecore');
    if (again) for (const [id, acks] of this.lastAcks) for (const t of acks.values()) this.queueReport(id, t, true);
    this.o.onRegistered?.(this.book.devices.size, problems);
  }

  /** Registers again when the edge is back after its connection was lost (it may have restarted). */
  private watchEdge(): void {
    const channel = this.edge.getChannel();
    const follow = (): void => {
      if (this.abort.signal.aborted) return;
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY && this.edgeLost) {
        this.edgeLost = false;
        this.register().catch((err: unknown) => {
          const e = toEdgetwinError(err);
          if (e.code !== 'EDGETWIN_ERR_MAPPER_ABORTED') this.o.logger.error({ code: e.code }, `registering again failed: ${formatError(e)}`);
        });
      } else if (state !== grpc.connectivityState.READY && state !== grpc.connectivityState.CONNECTING) {
        this.edgeLost = true;
      }
      channel.watchConnectivityState(state, Date.now() + 30_000, follow);
    };
    follow();
  }

  // ---- devices --------------------------------------------------------------------------------

  /** Runs exactly the book's devices (serialised). With `id`, rejects with that device's coded error if it could not start. */
  private apply(id?: string): Promise<void> {
    const run = this.applying.then(async () => {
      const held = [...this.book.devices.values()];
      const problems = await this.runtime.setDevices(held.map((d) => ({ instance: d.instance, model: d.model })));
      const running = new Set(this.runtime.status().map((s) => s.id));
      for (const d of held) this.armStateReport(d, running.has(d.id));
      for (const key of this.stateTimers.keys()) if (!this.book.devices.has(key)) this.disarmStateReport(key);
      if (id !== undefined && !running.has(id)) {
        throw problems.find((p) => p.message.includes(id)) ?? edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `device ${id} could not be started`);
      }
    });
    this.applying = run.catch(() => undefined);
    return run;
  }

  /** A desired value changed in UpdateDevice: the running worker gets it as a delta (no restart). */
  private desiredChanged(held: HeldDevice, changed: ReadonlyMap<string, string>): void {
    const delta = Object.fromEntries(changed);
    this.bus.deliver(deviceTopic(held.instance.namespace, held.instance.name, 'twin/update/delta'), { event_id: '', timestamp: Date.now(), twin: {}, delta });
  }

  private snapshot(id: string): Record<string, { expected?: { value: string }; actual?: { value: string } }> {
    const held = this.book.devices.get(id);
    const readings = this.book.readings.get(id);
    const out: Record<string, { expected?: { value: string }; actual?: { value: string } }> = {};
    for (const [p, value] of held?.desired ?? []) {
      const actual = readings?.get(p);
      out[p] = { expected: { value }, ...(actual !== undefined ? { actual: { value: actual } } : {}) };
    }
    return out;
  }

  // ---- reports --------------------------------------------------------------------------------

  /** A worker's twin/update: readings of reportToCloud properties, and every ack. */
  private onTwinUpdate(id: string, twin: Readonly<Record<string, WorkerTwin>>): void {
    const held = this.book.devices.get(id);
    if (!held) return;
    let readings = this.book.readings.get(id);
    if (!readings) this.book.readings.set(id, (readings = new Map<string, string>()));
    const now = String(Date.now());
    for (const [property, t] of Object.entries(twin)) {
      const actual = t.actual?.value;
      if (actual !== undefined) readings.set(property, actual);
      const metadata = { type: t.metadata?.type ?? '', timestamp: now };
      const observed = held.desired.get(property) ?? '';
      if (t.ack?.state) {
        const ack: PbTwin = {
          propertyName: property,
          reported: {
            value: actual ?? '',
            metadata: { ...metadata, [ACK_METADATA.state]: t.ack.state, ...(t.ack.code ? { [ACK_METADATA.code]: t.ack.code } : {}), ...(t.ack.reason ? { [ACK_METADATA.reason]: t.ack.reason } : {}) },
          },
          observedDesired: { value: t.ack.value ?? observed, metadata },
        };
        let acks = this.lastAcks.get(id);
        if (!acks) this.lastAcks.set(id, (acks = new Map<string, PbTwin>()));
        acks.set(property, ack);
        this.queueReport(id, ack, true);
      } else if (actual !== undefined && held.reported.has(property)) {
        this.queueReport(id, { propertyName: property, reported: { value: actual, metadata }, observedDesired: { value: observed, metadata } }, false);
      }
    }
  }

  /** One call per device at a time; readings that arrive meanwhile coalesce (latest wins), acks queue. */
  private queueReport(id: string, twin: PbTwin, ack: boolean): void {
    let r = this.reporting.get(id);
    if (!r) this.reporting.set(id, (r = { inFlight: false, readings: new Map(), acks: [] }));
    if (ack) r.acks.push(twin);
    else r.readings.set(twin.propertyName ?? '', twin);
    if (!r.inFlight) void this.flush(id, r);
  }

  private async flush(id: string, r: Reporting): Promise<void> {
    r.inFlight = true;
    try {
      while (!this.abort.signal.aborted && (r.acks.length > 0 || r.readings.size > 0)) {
        // An ack goes in its own call: sharing one with a newer reading of its property, the
        // edge would take only one of the two.
        let twins: PbTwin[];
        if (r.acks.length > 0) twins = [r.acks.shift()!];
        else {
          twins = [...r.readings.values()];
          r.readings.clear();
        }
        await this.send('ReportDeviceStatus', { ...split(id), reportedDevice: { twins } });
      }
    } finally {
      r.inFlight = false;
    }
  }

  private onState(id: string, state: string): void {
    const previous = this.states.get(id);
    this.states.set(id, state);
    if (state !== previous) void this.send('ReportDeviceStates', { ...split(id), state });
  }

  /** stateReport.reportToCloud: the state again every reportCycle (mapper-framework devicestatus.go). */
  private armStateReport(held: HeldDevice, running: boolean): void {
    const report = held.instance.stateReport;
    this.disarmStateReport(held.id);
    if (!running || !report?.reportToCloud) return;
    const timer = setInterval(() => {
      const state = this.states.get(held.id);
      if (state !== undefined) void this.send('ReportDeviceStates', { ...split(held.id), state });
    }, cycleMs(report.reportCycle));
    this.stateTimers.set(held.id, timer);
  }

  private disarmStateReport(id: string): void {
    clearInterval(this.stateTimers.get(id));
    this.stateTimers.delete(id);
  }

  /** A report: failures are logged and dropped (the next cycle reports again), as mapper-framework's. */
  private async send(method: 'ReportDeviceStatus' | 'ReportDeviceStates', request: object): Promise<void> {
    try {
      await callUnary(this.edge, dmiServices().manager, method, request, this.o.reportTimeoutMs ?? 1000);
    } catch (err) {
      const e = fromServiceError(err, method);
      if (isRetryable(err)) this.edgeLost = true;
      this.o.logger[isRetryable(err) ? 'debug' : 'warn']({ code: e.code }, `${method} not taken: ${formatError(e)}`);
    }
  }
}

function split(id: string): { deviceNamespace: string; deviceName: string } {
  const slash = id.indexOf('/');
  return { deviceNamespace: id.slice(0, slash), deviceName: id.slice(slash + 1) };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
