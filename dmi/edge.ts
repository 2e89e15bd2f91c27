// The edge side of DMI: edgetwin plays edgecore for KubeEdge ≥ 1.15 mappers. A bus adapter:
// it serves DeviceManagerService on a unix socket and talks to the twin only through its
// public API (get, update, onChange) and the bus (`state/update`), as any mapper or app does.
//
// - MapperRegister persists the mapper (dmi/registry.ts) and answers with the Devices and
//   DeviceModels of its protocol, well inside mapper-framework's 1 s deadline.
// - ReportDeviceStatus is a twin update (dmi/reports.ts), checked and committed before the
//   answer; ReportDeviceStates a `state/update`.
// - Each registered mapper gets a MapperLink (dmi/link.ts) that sends it RegisterDevice,
//   UpdateDevice, RemoveDevice and the model calls as devices are bound, changed, removed, or
//   given a new desired value on the twin; and that watches whether the mapper is reachable.

import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { edgetwinError, formatError, isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../errors.js';
import type { DeviceTwin, TwinChange } from '../devicetwin/index.js';
import { deviceTopic, type Bus } from '../eventbus/index.js';
import type { DeviceInstance, DeviceModel } from '../schemas/index.js';
import { toPbDevice, toPbDeviceModel } from './convert.js';
import { deviceKey, MapperLink, modelKey, type LinkCall, type LinkMessage } from './link.js';
import type { PbDeviceModel, PbMapperRegisterRequest, PbMapperRegisterResponse, PbReportDeviceStatesRequest, PbReportDeviceStatusRequest, PbTwin } from './messages.js';
import { dmiServices } from './proto.js';
import { MapperRegistry, type MapperRegistration } from './registry.js';
import { stateOf, twinUpdateOf } from './reports.js';
import { UnixGrpcServer, type ServedCall } from './server.js';
import { socketPathProblem } from './socket.js';

/** How long MapperRegister waits for the registration to be on disk before it answers anyway. */
const SAVE_BEFORE_ANSWER_MS = 500;

/** MapperInfo.api_version of edgetwin's own DMI mappers: they decode nested configData (Struct). */
export const EDGETWIN_API_VERSION = 'v1.0.0+edgetwin';

/** The parts of the twin the adapter uses: its public API. */
export type DmiTwin = Pick<DeviceTwin, 'get' | 'update' | 'onChange'>;

/** Hot-path instrumentation (edgecore/metrics.ts): counters only. */
export interface DmiObserver {
  served(call: ServedCall): void;
  called(call: LinkCall): void;
  /** A Device that could not be converted for its mapper (EDGETWIN_ERR_DMI_VALUE…). */
  refused(protocol: string, code: string): void;
}

export interface DmiEdgeOptions {
  readonly socketPath: string;
  readonly dataDir: string;
  readonly twin: DmiTwin;
  readonly bus: Bus;
  readonly logger: Logger;
  /** Protocols edgetwin runs in-process (config mappers.enabled): a DMI mapper may not take them. */
  readonly inProcessProtocols: readonly string[];
  /** Deadline of one call to a mapper (ms). */
  readonly callTimeoutMs: number;
  /** Backoff before retry n (the mapper runtime's backoffMs, injected by edgecore). */
  readonly retryDelay: (failures: number) => number;
  readonly maxAttempts?: number;
  /** How long a mapper may take to open its socket after registering before it counts as down (ms). */
  readonly graceMs?: number;
  readonly observer?: DmiObserver;
}

export interface DmiHealth {
  readonly socket: string;
  readonly listening: boolean;
  readonly mappers: ReturnType<MapperLink['status']>[];
}

type Bound = { readonly instance: DeviceInstance; readonly model: DeviceModel };

export class DmiEdge {
  private readonly o: DmiEdgeOptions;
  private readonly registry: MapperRegistry;
  private readonly server: UnixGrpcServer;
  private readonly links = new Map<string, MapperLink>();
  private bound = new Map<string, Bound>();
  /** Per device, the desired values its last built message carries. */
  private readonly sentDesired = new Map<string, ReadonlyMap<string, string>>();
  /** Devices this adapter marked offline because their mapper went away. */
  private readonly markedOffline = new Set<string>();
  private offChange?: () => void;
  private saveTimer?: NodeJS.Timeout;
  private listening = false;
  private stopped = false;

  constructor(options: DmiEdgeOptions) {
    this.o = options;
    this.registry = new MapperRegistry(options.dataDir);
    this.server = new UnixGrpcServer({
      socketPath: options.socketPath,
      what: 'the DMI socket (dmi.socket)',
      service: dmiServices().manager,
      logger: options.logger,
      handlers: {
        MapperRegister: (req: PbMapperRegisterRequest) => this.mapperRegister(req),
        ReportDeviceStatus: (req: PbReportDeviceStatusRequest) => this.reportDeviceStatus(req),
        ReportDeviceStates: (req: PbReportDeviceStatesRequest) => this.reportDeviceStates(req),
      },
      ...(options.observer ? { onCall: (c: ServedCall) => options.observer!.served(c) } : {}),
    });
  }

  /** Loads the registered mappers, listens, and starts a link to each. Rejects with a coded error. */
  async start(): Promise<void> {
    const saved = this.registry.load();
    await this.server.start();
    this.listening = true;
    for (const r of saved) {
      const link = this.createLink(r);
      link.setWant(this.wantFor(r.protocol, r.apiVersion));
      link.restore(r.delivered);
      link.start();
    }
    this.offChange = this.o.twin.onChange((c) => this.onTwinChange(c));
    this.o.logger.info({ socket: this.server.socketPath, mappers: saved.map((r) => r.protocol) }, 'DMI listening');
  }

  /** Exactly these devices are bound (manifests and cluster); each mapper is told what changed. */
  setDevices(devices: readonly Bound[]): void {
    this.bound = new Map(devices.map((d) => [d.instance.id, d]));
    for (const id of this.sentDesired.keys()) if (!this.bound.has(id)) this.sentDesired.delete(id);
    for (const link of this.links.values()) link.setWant(this.wantFor(link.protocol, link.registration.apiVersion));
  }

  health(): DmiHealth {
    return { socket: this.server.socketPath ?? this.o.socketPath, listening: this.listening && !this.stopped, mappers: [...this.links.values()].map((l) => l.status()) };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.offChange?.();
    await this.server.close();
    await Promise.all([...this.links.values()].map((l) => l.close()));
    clearTimeout(this.saveTimer);
    await this.save().catch((err: unknown) => this.o.logger.warn({ err }, 'could not save the DMI mappers'));
    await this.registry.flush().catch(() => undefined);
  }

  // ---- DeviceManagerService ---------------------------------------------------------------

  private async mapperRegister(req: PbMapperRegisterRequest): Promise<PbMapperRegisterResponse> {
    const m = req.mapper;
    if (!m) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'MapperRegister without a mapper', [{ path: '/mapper', message: 'is missing' }]);
    const protocol = (m.protocol ?? '').trim();
    if (protocol === '') throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'MapperRegister with an empty protocol', [{ path: '/mapper/protocol', message: 'is empty' }]);
    if (this.o.inProcessProtocols.includes(protocol)) {
      throw edgetwinError(
        'EDGETWIN_ERR_DMI_PROTOCOL_IN_PROCESS',
        `protocol "${protocol}" is served by edgetwin's in-process mapper; remove it from mappers.enabled to let the "${m.name ?? ''}" DMI mapper serve it`,
      );
    }
    const address = Buffer.from(m.address ?? new Uint8Array()).toString('utf8').replace(/^unix:\/\//, '');
    const problem = address === '' ? 'is empty' : !isAbsolute(address) ? 'is not an absolute path' : socketPathProblem(address);
    if (problem) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', `MapperRegister: the mapper's socket ${JSON.stringify(address)} ${problem}`, [{ path: '/mapper/address', message: problem }]);
    const previous = this.links.get(protocol);
    const registration: MapperRegistration = {
      protocol,
      name: m.name ?? '',
      version: m.version ?? '',
      apiVersion: m.api_version ?? '',
      address,
      state: m.state ?? '',
      registeredAt: Date.now(),
      delivered: {},
    };
    const want = this.wantFor(protocol, registration.apiVersion);
    const delivered = req.withData ? want : [];
    const link = previous ?? this.createLink(registration);
    // The last registration wins, as in edgecore (dmiclient CreateDMIClient).
    link.setWant(want);
    link.newSession(registration, delivered, previous !== undefined);
    await this.saveWithin(SAVE_BEFORE_ANSWER_MS);
    link.start();
    this.o.logger.info({ protocol, mapper: registration.name, address, devices: delivered.filter((d) => d.kind === 'device').length, again: previous !== undefined }, 'DMI mapper registered');
    if (!req.withData) return { modelList: [], deviceList: [] };
    const modelList: PbDeviceModel[] = [];
    const deviceList = [];
    for (const msg of delivered) {
      if (msg.kind === 'model') modelList.push(msg.message);
      else deviceList.push(msg.message);
    }
    return { modelList, deviceList };
  }

  private async reportDeviceStatus(req: PbReportDeviceStatusRequest): Promise<object> {
    const name = req.deviceName ?? '';
    if (name === '') throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'ReportDeviceStatus without a deviceName', [{ path: '/deviceName', message: 'is empty' }]);
    await this.applyReport(req.deviceNamespace ?? '', name, req.reportedDevice?.twins ?? []);
    return {};
  }

  private async reportDeviceStates(req: PbReportDeviceStatesRequest): Promise<object> {
    const name = req.deviceName ?? '';
    if (name === '') throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'ReportDeviceStates without a deviceName', [{ path: '/deviceName', message: 'is empty' }]);
    const state = stateOf(req.state);
    const namespace = req.deviceNamespace || 'default';
    const id = `${namespace}/${name}`;
    if (!this.o.twin.get(id)) throw notFound(id);
    if (state === undefined) return {};
    this.markedOffline.delete(id);
    await this.publishState(namespace, name, state);
    return {};
  }

  /** A reported twin set → one twin update (all or nothing, coded errors). */
  private async applyReport(ns: string, name: string, twins: readonly PbTwin[]): Promise<void> {
    const namespace = ns || 'default';
    const id = `${namespace}/${name}`;
    const state = this.o.twin.get(id);
    if (!state) throw notFound(id);
    const update = twinUpdateOf(twins, state, this.bound.get(id)?.model);
    await this.o.twin.update(id, update, { origin: 'edge' });
  }

  // ---- towards the mappers ----------------------------------------------------------------

  private createLink(registration: MapperRegistration): MapperLink {
    const { protocol } = registration;
    const link = new MapperLink({
      registration,
      logger: this.o.logger.child({ dmiMapper: protocol }),
      callTimeoutMs: this.o.callTimeoutMs,
      retryDelay: this.o.retryDelay,
      maxAttempts: this.o.maxAttempts ?? 5,
      graceMs: this.o.graceMs ?? 10_000,
      onReachable: (reachable) => this.onReachable(link, reachable),
      onDelivered: () => this.scheduleSave(),
      ...(this.o.observer ? { onCall: (c: LinkCall) => this.o.observer!.called(c) } : {}),
      onDeviceTwins: (namespace, name, twins) => {
        this.applyReport(namespace, name, twins).catch((err: unknown) => {
          const e = toEdgetwinError(err);
          this.o.logger.warn({ device: `${namespace}/${name}`, code: e.code }, `GetDevice values not taken: ${formatError(e)}`);
        });
      },
    });
    this.links.set(protocol, link);
    return link;
  }

  /** Every Device and DeviceModel message the mapper of `protocol` should have. */
  private wantFor(protocol: string, apiVersion: string): LinkMessage[] {
    const nested = apiVersion.endsWith('+edgetwin');
    const models = new Map<string, LinkMessage>();
    const devices: LinkMessage[] = [];
    for (const { instance, model } of this.bound.values()) {
      if (instance.protocol?.protocolName !== protocol) continue;
      const device = this.deviceMessage(instance, nested);
      if (!device) continue;
      const mk = modelKey(instance.namespace, model.name);
      if (!models.has(mk)) {
        const message = toPbDeviceModel(model, instance.namespace);
        models.set(mk, { kind: 'model', key: mk, digest: digest(message), message });
      }
      devices.push({ ...device, modelKey: mk });
    }
    return [...models.values(), ...devices];
  }

  /** One device's message with the twin's desired values; undefined (logged, counted) if it cannot travel. */
  private deviceMessage(instance: DeviceInstance, nested: boolean): Omit<Extract<LinkMessage, { kind: 'device' }>, 'modelKey'> | undefined {
    const desired = new Map<string, string>();
    const twins = this.o.twin.get(instance.id)?.twins ?? {};
    for (const p of instance.properties) {
      const t = twins[p.name];
      if (t && t.type !== 'deleted' && t.expected !== undefined) desired.set(p.name, t.expected.value);
    }
    try {
      const message = toPbDevice(instance, { nested, desired });
      this.sentDesired.set(instance.id, new Map((message.spec?.properties ?? []).map((p) => [p.name ?? '', p.desired?.value ?? ''])));
      const key = deviceKey(instance.namespace, instance.name);
      return { kind: 'device', key, digest: digest(message), message };
    } catch (err) {
      const e: EdgetwinError = isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_DMI_VALUE');
      this.o.observer?.refused(instance.protocol?.protocolName ?? '', e.code);
      this.o.logger.warn({ device: instance.id, code: e.code }, `not sent to its DMI mapper: ${formatError(e)}`);
      return undefined;
    }
  }

  /**
   * A committed twin change: a new desired value on a DMI device becomes an UpdateDevice. The
   * twin's change listener rather than its `twin/update/delta` topic: a delta names only
   * properties whose desired value differs from the reading (a value set equal to it would never
   * reach the mapper's Device, whose next restart would then write the stale one), and it comes
   * again with every reading while they differ, each to be parsed to find nothing new.
   */
  private onTwinChange(change: TwinChange): void {
    const sent = this.sentDesired.get(change.id);
    if (!sent) return;
    let differs = false;
    for (const p of change.changed) {
      if (!sent.has(p)) continue;
      const t = change.device.twins[p];
      const value = t && t.type !== 'deleted' ? t.expected?.value : undefined;
      if (value !== undefined && value !== sent.get(p)) differs = true;
    }
    if (!differs) return; // reported values only: nothing for the mapper
    const bound = this.bound.get(change.id);
    const link = bound && this.links.get(bound.instance.protocol?.protocolName ?? '');
    if (!bound || !link) return;
    const device = this.deviceMessage(bound.instance, link.registration.apiVersion.endsWith('+edgetwin'));
    if (device) link.putWant({ ...device, modelKey: modelKey(bound.instance.namespace, bound.model.name) });
  }

  private onReachable(link: MapperLink, reachable: boolean): void {
    for (const key of link.wantedDevices()) {
      const id = key.slice('device:'.length);
      const slash = id.indexOf('/');
      const namespace = id.slice(0, slash);
      const name = id.slice(slash + 1);
      const state = this.o.twin.get(id)?.state;
      if (!reachable && state !== 'offline') {
        this.markedOffline.add(id);
        void this.publishState(namespace, name, 'offline');
      } else if (reachable && this.markedOffline.delete(id) && state === 'offline') {
        // Back, but what the device itself is doing only its mapper can say.
        void this.publishState(namespace, name, 'unknown');
      }
    }
  }

  private async publishState(namespace: string, name: string, state: string): Promise<void> {
    try {
      await this.o.bus.publish(deviceTopic(namespace, name, 'state/update'), JSON.stringify({ event_id: '', timestamp: Date.now(), state }), { qos: 1 });
    } catch (err) {
      this.o.logger.warn({ err, device: `${namespace}/${name}` }, 'could not publish the device state');
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer || this.stopped) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save().catch((err: unknown) => this.o.logger.warn({ code: toEdgetwinError(err).code }, `could not save the DMI mappers: ${String(err)}`));
    }, 250);
  }

  /**
   * Saves, and waits for it at most `ms`: the answer to MapperRegister must beat mapper-framework's
   * 1 s deadline even on a disk whose fsync stalls; the save goes on and a failure is logged.
   */
  private async saveWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const saved = this.save().catch((err: unknown) => {
      const e = toEdgetwinError(err);
      this.o.logger.error({ code: e.code }, `the DMI registration was not saved: ${formatError(e)}`);
    });
    await Promise.race([saved, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  private save(): Promise<void> {
    return this.registry.save([...this.links.values()].map((l) => l.registration));
  }
}

function notFound(id: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `device ${id} is not bound to this node`);
}

function digest(message: object): string {
  const json = JSON.stringify(message, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
  return createHash('sha1').update(json).digest('base64url');
}
