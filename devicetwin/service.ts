// DeviceTwin: the twin module. Owns the device registry and the in-memory twin state, makes
// every change durable through a TwinStore before it is answered, and serves KubeEdge's topics
// on the bus. Other modules use its public methods (get/update/onChange), never its internals.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import type { Logger } from 'pino';
import { edgetwinError, isEdgetwinError, type EdgetwinError } from '../errors.js';
import { DEVICE_PREFIX, TWIN_INGEST_FILTERS, nodeTopic, parseTopic, type Bus, type IngestBus, type MessageOrigin, type Subscription } from '../eventbus/index.js';
import type { DeviceInstance, DeviceModel } from '../schemas/index.js';
import { NO_OBSERVER, type DeviceEntry, type HandlerContext, type TwinChange, type TwinObserver } from './context.js';
import { handleTwinGet } from './handlers/get.js';
import { handleInvalidDeviceTopic } from './handlers/invalid.js';
import { handleMembershipGet } from './handlers/membership.js';
import { handleStateUpdate } from './handlers/state.js';
import { handleTwinUpdate, publishChange } from './handlers/update.js';
import { admitDevices, changeKinds, type ChangeAuthorizer, type DeviceLimits } from './policy.js';
import { emptyDevice, mergeUpdate, type MergeSuccess, type UpdateOrigin } from './merge.js';
import { DEFAULT_PARSE_LIMITS, type ParseLimits, type TwinPatch } from './parse.js';
import { historyEntries, historyPossible, queryHistory, type HistoryRequest, type HistoryResult } from './history.js';
import type { DeviceStateName, DeviceTwinState, HistoryPolicy, HistoryStats, MembershipEntry, StoreChange, TwinStore } from './types.js';
import { IN_PROCESS_REPORTER, ReporterWatch } from './reporters.js';
import type { BaseMessage, MembershipUpdate, WireDevice } from './wire.js';

export interface DeviceTwinOptions {
  readonly bus: IngestBus;
  readonly store: TwinStore;
  readonly nodeName: string;
  readonly logger: Logger;
  readonly limits?: ParseLimits;
  /** Injectable clock (ms since the epoch), for tests. */
  readonly clock?: () => number;
  /**
   * Asked, for each `twin/update` from an MQTT client, whether its sender may make the changes
   * it makes (eventbus/auth: a mapper reports, a writer sets desired values). A refusal is the
   * update's answer and nothing of it is applied. In-process and API updates are not asked.
   */
  readonly authorizeChange?: ChangeAuthorizer;
  /** mqtt.limits.maxDevices and maxPropertiesPerDevice; unlimited when absent. */
  readonly deviceLimits?: DeviceLimits;
  /** Update outcomes and ack transitions, for metrics (edgecore/metrics.ts). */
  readonly observer?: TwinObserver;
  /**
   * How long (ms) a reporter counts as serving a device, for spotting two mappers serving one
   * (reporters.ts); a conflict is logged at most once per window per device. Default 60 s.
   */
  readonly reporterWindowMs?: number;
  /**
   * The MQTT QoS of every answer the twin publishes (update result, document, delta, get
   * result, state result, membership). Default 0, as KubeEdge's internal broker publishes
   * (`eventBus.mqttQOS`); KubeEdge's default external-broker mode publishes at QoS 1
   * (config `mqtt.answerQos`, docs/reliability.md).
   */
  readonly answerQos?: 0 | 1;
  /**
   * What history to record (each committed value, in the same commit) and serve; no history
   * without it. The store applies the same policy's retention.
   */
  readonly history?: HistoryPolicy;
}

/** An update through the API: property → expected/actual wire strings (or null to delete). */
export type TwinUpdateInput = Readonly<Record<string, TwinPatch | null>>;

type ChangeListener = (change: TwinChange) => void;

/**
 * The twin's in-process events (eventemitter3, which the console's browser code runs too):
 * `change` after each committed change — what the console's WebSocket carries.
 */
export interface TwinEvents {
  change: [change: TwinChange];
}
type BoundDevice = { readonly instance: DeviceInstance; readonly model: DeviceModel };

/** Which copy wins when several origins declare the same device (higher wins; others rank 0). */
const ORIGIN_RANK: Readonly<Record<string, number>> = { cluster: 1 };

export class DeviceTwin {
  private readonly opts: DeviceTwinOptions;
  private readonly entries = new Map<string, DeviceEntry>();
  private readonly events = new EventEmitter<TwinEvents>();
  /** Per origin, the devices its latest setDevices left out under mqtt.limits. */
  private readonly refused = new Map<string, EdgetwinError[]>();
  private readonly ingest: Subscription[] = [];
  private readonly ctx: HandlerContext;
  private readonly reporters: ReporterWatch;
  private stored = new Map<string, DeviceTwinState>();
  private members = new Map<string, MembershipEntry>();
  /** What each origin last asked for in setDevices, so a lower-ranked copy can take over again. */
  private readonly declared = new Map<string, ReadonlyMap<string, BoundDevice>>();
  /** The newest commit still in flight; answers that change nothing wait for it. */
  private lastCommit: Promise<void> = Promise.resolve();
  /** Per device, its commits still in flight, rejecting if one failed (see HandlerContext.settled). */
  private readonly inFlight = new Map<string, Promise<void>>();
  private started = false;
  /** False when no device can have history: the hot path then skips the per-update check. */
  private readonly historyOn: boolean;

  constructor(opts: DeviceTwinOptions) {
    this.opts = opts;
    this.reporters = new ReporterWatch(opts.reporterWindowMs ?? 60_000);
    this.ctx = this.makeContext();
    this.historyOn = opts.history !== undefined && historyPossible(opts.history);
  }

  /** Opens the store and loads what it holds. Devices are bound by {@link setDevices}. */
  async start(): Promise<void> {
    const data = await this.opts.store.open();
    this.stored = new Map(data.devices.map((d) => [d.id, d]));
    this.members = new Map(data.members.map((m) => [m.id, m]));
    this.started = true;
  }

  /**
   * Serves KubeEdge's device and node topics on the bus. With `until`, messages that arrive
   * before it resolves wait for it, unacknowledged, in arrival order: a node takes its topics as
   * soon as its broker listens, before its devices are bound, so that no update in that window
   * is acknowledged with nothing to apply it (the broker PUBACKs a message no handler owns).
   */
  listen(options: { readonly until?: Promise<unknown> } = {}): void {
    let gate: Promise<unknown> | undefined = options.until;
    // Registered first, so it runs before the dispatches queued behind the gate: a message
    // arriving after it is dispatched at once, and none overtakes one that waited.
    gate?.then(
      () => (gate = undefined),
      () => undefined,
    );
    const handler = (topic: string, payload: Buffer, origin: MessageOrigin): Promise<void> | void => {
      if (gate === undefined) return this.dispatch(topic, payload, origin);
      // A start that failed never opens the gate: the broker closes and nothing is acknowledged.
      return gate.then(() => this.dispatch(topic, payload, origin), () => undefined);
    };
    for (const filter of TWIN_INGEST_FILTERS) this.ingest.push(this.opts.bus.handle(filter, handler));
    // Every other client message under the device prefix (a one-segment id, a typo in a kind)
    // is answered too, by dispatch's invalid-topic branch (handlers/invalid.ts).
    this.ingest.push(this.opts.bus.handleUnmatched(DEVICE_PREFIX, handler));
  }

  /**
   * Binds exactly these devices to the node (those of `origin`; others are left alone):
   * new ones are added, missing ones removed, and one `membership/updated` is published.
   * A device declared by several origins is bound once, from the highest-ranked one: the
   * cluster's copy wins over a local manifest for the same `<ns>/<name>` (issue 5); when the
   * cluster drops it, the manifest's copy takes over again without leaving the node.
   */
  async setDevices(requested: ReadonlyArray<{ instance: DeviceInstance; model: DeviceModel }>, origin = 'manifest'): Promise<void> {
    // A device over mqtt.limits is left out, reported, and never displaces one already bound.
    const { admitted: devices, refused } = admitDevices(requested, this.opts.deviceLimits, (id) => this.entries.has(id), this.boundElsewhere(origin));
    this.refused.set(origin, refused);
    for (const e of refused) this.opts.logger.warn({ code: e.code, device: e.details[0]?.path }, e.message);
    const wanted = new Map(devices.map((d) => [d.instance.id, d]));
    this.declared.set(origin, wanted);
    const added: WireDevice[] = [];
    const removed: WireDevice[] = [];
    const changes: StoreChange[] = [];
    const fallbacks: Array<[string, BoundDevice]> = [];
    for (const [id, entry] of this.entries) {
      const member = this.members.get(id);
      if ((member?.origin ?? origin) === origin && !wanted.has(id)) {
        const other = this.winner(id);
        if (other) {
          fallbacks.push([other, this.declared.get(other)!.get(id)!]);
          continue;
        }
        this.entries.delete(id);
        this.members.delete(id);
        this.stored.delete(id);
        this.reporters.forget(id);
        changes.push({ kind: 'unmember', id });
        const description = entry.instance.description;
        removed.push({ id, name: entry.state.name, ...(description ? { description } : {}) });
      }
    }
    const binds: Array<[string, BoundDevice]> = [...[...wanted.values()].map((d): [string, BoundDevice] => [origin, d]), ...fallbacks];
    for (const [from, { instance, model }] of binds) {
      if (this.winner(instance.id) !== from) continue; // a higher-ranked origin's copy is bound
      const known = this.members.get(instance.id);
      const entry: MembershipEntry = {
        id: instance.id,
        namespace: instance.namespace,
        name: instance.name,
        model: model.name,
        ...(instance.description !== undefined ? { description: instance.description } : {}),
        origin: from,
      };
      if (!known || known.model !== entry.model || known.description !== entry.description || known.origin !== from) {
        changes.push({ kind: 'member', entry });
      }
      if (!known) added.push({ id: instance.id, name: instance.name, ...(instance.description ? { description: instance.description } : {}) });
      this.members.set(instance.id, entry);
      const state = this.entries.get(instance.id)?.state ?? this.stored.get(instance.id) ?? emptyDevice(instance.namespace, instance.name);
      this.entries.set(instance.id, { instance, model, state });
      // The entry owns the state now: a copy left here would pin each device's loaded twins for
      // the life of the process once updates replace them (+135 MB at 100k × 5, benchmarks.md).
      this.stored.delete(instance.id);
      const seeded = this.seedDesired(instance, model, state);
      if (seeded) {
        this.entries.set(instance.id, { instance, model, state: seeded.next });
        const history = this.recordsHistory(instance.id, model.name) ? historyEntries(state, seeded.next, seeded.changed) : undefined;
        changes.push({ kind: 'twins', device: seeded.next, changed: seeded.changed, ...(history ? { history } : {}) });
      }
    }
    if (changes.length > 0) await this.commit(changes);
    if (added.length > 0 || removed.length > 0) {
      // KubeEdge builds it with dttype.BuildBaseMessage(): a fresh uuid event id. It sends one
      // message per device; edgetwin one per change (docs/mqtt-api.md, differences).
      const message: MembershipUpdate = {
        event_id: randomUUID(),
        timestamp: this.now(),
        added_devices: added.length > 0 ? added : null,
        removed_devices: removed.length > 0 ? removed : null,
      };
      this.publish(nodeTopic(this.opts.nodeName, 'membership/updated'), message);
    }
  }

  /** Devices the latest setDevices calls left out under mqtt.limits, each with its coded error. */
  refusals(): EdgetwinError[] {
    return [...this.refused.values()].flat();
  }

  /** Devices bound here from origins other than `origin` (they count towards maxDevices). */
  private boundElsewhere(origin: string): Set<string> {
    const ids = new Set<string>();
    for (const id of this.entries.keys()) if ((this.members.get(id)?.origin ?? origin) !== origin) ids.add(id);
    return ids;
  }

  /** The origin whose copy of `id` is bound: the highest-ranked one that declares it. */
  private winner(id: string): string | undefined {
    let best: string | undefined;
    for (const [origin, devices] of this.declared) {
      if (devices.has(id) && (best === undefined || (ORIGIN_RANK[origin] ?? 0) > (ORIGIN_RANK[best] ?? 0))) best = origin;
    }
    return best;
  }

  /** A manifest's `desired.value` becomes the twin's desired value when it has none yet. */
  private seedDesired(instance: DeviceInstance, model: DeviceModel, state: DeviceTwinState): MergeSuccess | undefined {
    const twins = new Map<string, TwinPatch>();
    for (const p of instance.properties) {
      const current = state.twins[p.name];
      if (p.desired && p.desired.value !== '' && (current === undefined || current.type === 'deleted' || current.expected === undefined)) {
        twins.set(p.name, { expected: p.desired.value });
      }
    }
    if (twins.size === 0) return undefined;
    const outcome = mergeUpdate(state, { eventId: '', twins }, { now: this.now(), origin: 'cloud', properties: model.properties });
    if (!outcome.ok) {
      this.opts.logger.warn({ device: instance.id, err: outcome.error }, 'desired values of the manifest were not applied');
      return undefined;
    }
    return outcome.changed.length > 0 ? outcome : undefined;
  }

  get(id: string): DeviceTwinState | undefined {
    return this.entries.get(id)?.state;
  }

  /** The device entries bound to this node (instance, model and current state). */
  list(): DeviceEntry[] {
    return [...this.entries.values()];
  }

  /** The bound device's `protocolName` (the broker's ACL scopes mapper identities by it). */
  protocolOf(id: string): string | undefined {
    return this.entries.get(id)?.instance.protocol?.protocolName;
  }

  /**
   * Updates twins through the API (cloud sync, in-process tools): the same validation and
   * all-or-nothing merge as MQTT, and the same answers on the bus. Throws a coded error.
   */
  async update(id: string, twins: TwinUpdateInput, options: { origin?: UpdateOrigin; version?: number; eventId?: string } = {}): Promise<DeviceTwinState> {
    const origin = options.origin ?? 'cloud';
    const entry = this.entries.get(id);
    if (!entry) throw this.rejected(origin, edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `device ${id} is not bound to node ${this.opts.nodeName}`));
    const update = {
      eventId: options.eventId ?? '',
      twins: new Map(Object.entries(twins)),
      ...(options.version !== undefined ? { version: options.version } : {}),
    };
    const outcome = mergeUpdate(entry.state, update, { now: this.now(), origin, properties: entry.model.properties });
    if (!outcome.ok) throw this.rejected(origin, outcome.error);
    if (outcome.changed.length === 0) this.ctx.observer.update('unchanged', origin);
    if (outcome.changed.length > 0) {
      await this.ctx.applyTwins(id, outcome, origin);
      // As handlers/update.ts does for MQTT: the document for apps, and the delta that drives
      // the mapper (a desired value from the cloud must reach the device).
      publishChange(this.ctx, outcome, update.eventId, this.now());
    }
    return outcome.next;
  }

  /**
   * The history of a bound device (docs/telemetry.md). Throws EDGETWIN_ERR_DEVICE_NOT_FOUND,
   * EDGETWIN_ERR_HISTORY_DISABLED, EDGETWIN_ERR_PROPERTY_UNKNOWN, EDGETWIN_ERR_HISTORY_QUERY or
   * EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS.
   */
  async history(id: string, request: HistoryRequest): Promise<HistoryResult> {
    const entry = this.entries.get(id);
    if (!entry) throw edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `device ${id} is not bound to node ${this.opts.nodeName}`);
    return queryHistory(this.opts.store, this.opts.history, entry, request);
  }

  /** Rows and estimated bytes of the history, per tier (metrics). */
  historyStats(): Promise<HistoryStats> {
    return this.opts.store.historyStats();
  }

  /** historyFor(…).enabled without its allocation: this runs once per committed update. */
  private recordsHistory(id: string, model: string): boolean {
    const policy = this.opts.history;
    if (policy === undefined) return false;
    return policy.devices.get(id)?.enabled ?? policy.models.get(model)?.enabled ?? policy.enabled;
  }

  /** Listens to committed changes. Returns the function that removes the listener. */
  onChange(listener: ChangeListener): () => void {
    return this.on('change', listener);
  }

  /**
   * Listens to a twin event (TwinEvents). One listener's exception is logged and never reaches
   * the others or the commit that emitted it. Returns the function that removes the listener.
   */
  on<K extends keyof TwinEvents>(event: K, listener: (...args: TwinEvents[K]) => void): () => void {
    const safe = (...args: TwinEvents[K]): void => {
      try {
        listener(...args);
      } catch (err) {
        this.opts.logger.error({ err, event }, 'a twin event listener threw');
      }
    };
    this.events.on(event, safe);
    return () => void this.events.off(event, safe);
  }

  /** Routes one bus message to its handler; resolves once the message is answered (and durable). */
  dispatch(topic: string, payload: Buffer, origin: MessageOrigin = {}): Promise<void> | void {
    const parsed = parseTopic(topic);
    if (!parsed) {
      if (topic.startsWith(DEVICE_PREFIX)) handleInvalidDeviceTopic(this.ctx, topic, payload);
      return;
    }
    if (parsed.scope === 'node') {
      if (parsed.kind === 'membership/get') handleMembershipGet(this.ctx, parsed.node, payload);
      return;
    }
    if (parsed.scope !== 'device') return;
    switch (parsed.kind) {
      case 'twin/update':
        return handleTwinUpdate(this.contextFor(origin), parsed.namespace, parsed.name, payload, 'edge', origin);
      case 'twin/cloud_updated':
        return handleTwinUpdate(this.ctx, parsed.namespace, parsed.name, payload, 'sync');
      case 'twin/get':
        return handleTwinGet(this.ctx, parsed.namespace, parsed.name, payload);
      case 'state/update':
        return handleStateUpdate(this.ctx, parsed.namespace, parsed.name, payload, origin);
      default:
        return;
    }
  }

  /**
   * The handler context for one update: the shared one, unless the sender's role limits what
   * it may change; then a refusal replaces the commit (and nothing of the update is applied).
   */
  private contextFor(origin: MessageOrigin): HandlerContext {
    const authorize = this.opts.authorizeChange;
    if (!authorize || origin.clientId === undefined) return this.ctx;
    return {
      ...this.ctx,
      applyTwins: (id, outcome, from) => {
        const prev = this.entries.get(id)?.state;
        const refusal = prev && authorize(origin, id, changeKinds(prev, outcome.next, outcome.changed));
        if (!refusal) return this.applyTwins(id, outcome, from);
        this.ctx.observer.update('rejected', from, refusal.code);
        return Promise.reject(refusal);
      },
    };
  }

  /** Stops serving topics and waits for in-flight commits. The store is closed by its owner. */
  async stop(): Promise<void> {
    const subs = this.ingest.splice(0);
    await Promise.all(subs.map((s) => s.unsubscribe()));
    await this.lastCommit.catch(() => undefined);
  }

  private now(): number {
    return this.opts.clock ? this.opts.clock() : Date.now();
  }

  private publish(topic: string, message: BaseMessage): void {
    const bus: Bus = this.opts.bus;
    bus.publish(topic, JSON.stringify(message), { qos: this.opts.answerQos ?? 0 }).catch((err: unknown) => {
      this.opts.logger.warn({ err, topic }, 'could not publish');
    });
  }

  private commit(changes: readonly StoreChange[], device?: string): Promise<void> {
    if (!this.started) return Promise.reject(edgetwinError('EDGETWIN_ERR_STORE_CLOSED', 'the twin store is not open'));
    const p = this.opts.store.commit(changes);
    this.lastCommit = p.catch(() => undefined);
    if (device !== undefined) {
      const earlier = this.inFlight.get(device);
      const all = earlier === undefined ? p : Promise.all([earlier, p]).then(() => undefined);
      this.inFlight.set(device, all);
      const forget = (): void => {
        if (this.inFlight.get(device) === all) this.inFlight.delete(device);
      };
      all.then(forget, forget);
    }
    return p;
  }

  /** HandlerContext.settled: every commit so far, and none of `id`'s in flight failed. */
  private async settled(id?: string): Promise<void> {
    const device = id === undefined ? undefined : this.inFlight.get(id);
    await this.lastCommit;
    if (device) await device;
  }

  private async applyTwins(id: string, outcome: MergeSuccess, origin: UpdateOrigin): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) throw edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `device ${id} was removed`);
    const prev = entry.state;
    const next = outcome.next;
    this.entries.set(id, { ...entry, state: next });
    const history = this.historyOn && this.recordsHistory(id, entry.model.name) ? historyEntries(prev, next, outcome.changed) : undefined;
    try {
      await this.commit([{ kind: 'twins', device: next, changed: outcome.changed, ...(history ? { history } : {}) }], id);
    } catch (err) {
      this.revert(id, prev, next, outcome.changed);
      this.ctx.observer.update('failed', origin, isEdgetwinError(err) ? err.code : 'EDGETWIN_ERR_STORE_WRITE');
      throw err;
    }
    if (this.opts.observer) this.observeApplied(this.opts.observer, prev, next, outcome.changed, origin);
    if (this.events.listenerCount('change') > 0) this.emit({ id, device: next, changed: outcome.changed, origin });
  }

  /** Counts a committed update and the ack transitions in it (a new desired value is `pending`). */
  private observeApplied(observer: TwinObserver, prev: DeviceTwinState, next: DeviceTwinState, changed: readonly string[], origin: UpdateOrigin): void {
    observer.update('applied', origin);
    for (const key of changed) {
      const ack = next.twins[key]?.ack;
      if (ack === undefined || ack === prev.twins[key]?.ack) continue;
      observer.ack(ack.state, ack.timestamp - (next.twins[key]?.expected?.timestamp ?? ack.timestamp));
    }
  }

  /** Two clients reporting for one device, interleaved: a coded warning and a metric, once per window. */
  private noteReport(id: string, origin: MessageOrigin): void {
    const conflict = this.reporters.note(id, origin.clientId ?? IN_PROCESS_REPORTER, this.now());
    if (!conflict) return;
    const reporters = [conflict.reporter, ...conflict.others];
    const error = edgetwinError(
      'EDGETWIN_ERR_MAPPER_CONFLICT',
      `device ${id} is reported by more than one client (${reporters.join(', ')}): two mappers serve it, and their readings and online/offline states overwrite each other; ` +
        'run one mapper per device (leave its protocol out of mappers.enabled when an outside mapper serves it, or give each `edgetwin mapper` its own --devices)',
    );
    this.opts.logger.warn({ code: error.code, device: id, reporters }, error.message);
    this.ctx.observer.mapperConflict(id);
  }

  private mayReport(id: string, origin: MessageOrigin): boolean {
    const authorize = this.opts.authorizeChange;
    return !authorize || origin.clientId === undefined || authorize(origin, id, new Set(['reported'])) === undefined;
  }

  private rejected(origin: UpdateOrigin, error: EdgetwinError): EdgetwinError {
    this.ctx.observer.update('rejected', origin, error.code);
    return error;
  }

  /** Undoes a change whose commit failed, property by property, unless a later change replaced it. */
  private revert(id: string, prev: DeviceTwinState, next: DeviceTwinState, changed: readonly string[]): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.state === next) {
      this.entries.set(id, { ...entry, state: prev });
      return;
    }
    const twins = { ...entry.state.twins };
    for (const key of changed) {
      if (twins[key] !== next.twins[key]) continue;
      const before = prev.twins[key];
      if (before) twins[key] = before;
      else delete twins[key];
    }
    this.entries.set(id, { ...entry, state: { ...entry.state, twins } });
  }

  private async applyState(id: string, state: DeviceStateName, lastOnline: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) throw edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `device ${id} was removed`);
    const prev = entry.state;
    const next = { ...prev, state, lastOnline };
    this.entries.set(id, { ...entry, state: next });
    try {
      await this.commit([{ kind: 'state', id, state, lastOnline }], id);
    } catch (err) {
      const now = this.entries.get(id);
      if (now?.state === next) this.entries.set(id, { ...now, state: prev });
      throw err;
    }
  }

  private emit(change: TwinChange): void {
    this.events.emit('change', change);
  }

  private makeContext(): HandlerContext {
    return {
      nodeName: this.opts.nodeName,
      limits: this.opts.limits ?? DEFAULT_PARSE_LIMITS,
      logger: this.opts.logger,
      observer: this.opts.observer ?? NO_OBSERVER,
      now: () => this.now(),
      newEventId: () => randomUUID(),
      device: (id) => this.entries.get(id),
      devices: () => this.entries.values(),
      applyTwins: (id, outcome, origin) => this.applyTwins(id, outcome, origin),
      applyState: (id, state, lastOnline) => this.applyState(id, state, lastOnline),
      settled: (id) => this.settled(id),
      noteReport: (id, origin) => this.noteReport(id, origin),
      mayReport: (id, origin) => this.mayReport(id, origin),
      publish: (topic, message) => this.publish(topic, message),
    };
  }
}

