// CloudSync: mirrors this node's twins to Kubernetes Device resources (KubeEdge v1beta1).
// Down: Devices whose spec.nodeName is this node join the twin set (origin `cluster`), their
// spec desired values become twin desired values. Up: reported values, observedDesired, state
// and lastOnlineTime go to DeviceStatus (or Device.status) through a durable outbox. Talks to
// the twin only through its public API (TwinApi).

import type { Logger } from 'pino';
import type { KubeConfig } from '@kubernetes/client-node';
import { isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../errors.js';
import type { TwinChange } from '../devicetwin/index.js';
import { decideDesired } from './desired.js';
import { ClientKubeApi, loadKubeConfig, type KubeApi, type KubeObject, type Plural } from './kube.js';
import { MembershipPlanner, type ClusterDevice } from './membership.js';
import { DEFAULTS, type CloudSyncOptions, type TwinApi } from './options.js';
import { StatusBook } from './book.js';
import { Outbox } from './outbox.js';
import { Reflector, objectKey, type ObjectEvent, type ReflectorHealth } from './reflector.js';
import { Scheduler, type Outcome, type SchedulerHealth } from './scheduler.js';
import { TokenBucket, systemClock, type Clock } from './timing.js';
import { StatusWriter } from './writer.js';

export interface CloudSyncHealth {
  /** `synced`: every watch open and the writer not offline; `degraded`: something is retrying. */
  readonly state: 'stopped' | 'starting' | 'synced' | 'degraded';
  /** Devices bound to this node from the cluster. */
  readonly devices: number;
  readonly watches: Readonly<Record<string, ReflectorHealth>>;
  readonly writer: SchedulerHealth;
  readonly api: { readonly calls: number; readonly bytes: number };
  /** Devices or models that could not be synced, and why (cleared when they next succeed). */
  readonly problems: ReadonlyArray<{ readonly key: string; readonly code: string; readonly message: string }>;
}

export class CloudSync {
  private readonly opts: CloudSyncOptions & { readonly kubeConfig?: KubeConfig };
  private readonly clock: Clock;
  private api?: KubeApi;
  private outbox?: Outbox;
  private scheduler?: Scheduler;
  private writer?: StatusWriter;
  private planner?: MembershipPlanner;
  private readonly reflectors = new Map<Plural, Reflector>();
  private readonly synced = new Set<Plural>();
  private cached: KubeObject[] = [];
  private readonly persisted = new Set<string>();
  private plan = new Map<string, ClusterDevice>();
  private readonly reportedSets = new WeakMap<ClusterDevice, ReadonlySet<string>>();
  private book?: StatusBook;
  private readonly desiredSync = new Map<string, Map<string, string | null>>();
  private readonly rejected = new Map<string, Map<string, string>>();
  private readonly inflightDesired = new Map<string, Map<string, string>>();
  private readonly desiredUp = new Set<string>();
  private readonly problems = new Map<string, EdgetwinError>();
  private unsubscribe?: () => void;
  private replanning: Promise<void> = Promise.resolve();
  private replanQueued = false;
  private readonly stopping = new AbortController();
  private statePoll?: Promise<void>;
  private started = false;

  constructor(opts: CloudSyncOptions & { readonly kubeConfig?: KubeConfig }) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
  }

  private get log(): Logger {
    return this.opts.logger;
  }

  private get twin(): TwinApi {
    return this.opts.twin;
  }

  private get cycle(): number {
    return this.opts.reportCycle ?? DEFAULTS.reportCycle;
  }

  private get layout(): 'devicestatus' | 'device' {
    return this.opts.statusLayout ?? DEFAULTS.statusLayout;
  }

  /**
   * Opens the outbox, binds the cluster devices known from the last run (so an unreachable API
   * server at boot still leaves them bound), then starts the watches and the writer. Throws
   * EDGETWIN_ERR_CLOUD_KUBECONFIG or EDGETWIN_ERR_CLOUD_OUTBOX; never fails on the network.
   */
  async start(): Promise<void> {
    const o = this.opts;
    const api = o.api ?? new ClientKubeApi({
      kubeConfig: o.kubeConfig ?? loadKubeConfig(o.kubeconfig ?? '', o.context),
      limiter: new TokenBucket(o.qps ?? DEFAULTS.qps, o.burst ?? DEFAULTS.burst, this.clock),
      requestTimeout: o.requestTimeout ?? DEFAULTS.requestTimeout,
    });
    this.api = api;
    const outbox = Outbox.inDataDir(o.dataDir);
    const data = outbox.open();
    this.outbox = outbox;
    const book = new StatusBook(outbox, data);
    this.book = book;
    for (const [id, m] of data.desired) this.desiredSync.set(id, m);
    this.cached = data.objects;
    for (const obj of data.objects) this.persisted.add(`${obj.kind === 'DeviceModel' ? 'devicemodels' : 'devices'}:${objectKey(obj)}`);
    this.planner = new MembershipPlanner(o.nodeName, o.localModels ?? new Map(), this.cycle);
    this.writer = new StatusWriter({
      api,
      logger: this.log,
      layout: this.layout,
      statusSubresource: o.statusSubresource ?? DEFAULTS.statusSubresource,
      device: (id) => this.plan.get(id),
      rows: (id) => book.rowsOf(id),
      state: (id) => book.stateOf(id),
      current: (plural, ns, name) => this.reflectors.get(plural)?.get(ns, name),
      observe: (plural, object) => this.reflectors.get(plural)?.observe(object),
      acked: (id, sent, stateSeq) => book.acked(id, sent, stateSeq),
      problem: (id, error) => this.setProblem(id, error),
    });
    this.scheduler = new Scheduler({
      clock: this.clock,
      logger: this.log,
      work: (id) => this.work(id),
      concurrency: o.concurrency ?? DEFAULTS.concurrency,
      batchWindow: o.batchWindow ?? DEFAULTS.batchWindow,
      ...(o.backoff ? { backoff: o.backoff } : {}),
    });
    const plurals: Plural[] = ['devicemodels', 'devices', ...(this.layout === 'devicestatus' ? (['devicestatuses'] as const) : [])];
    for (const plural of plurals) {
      this.reflectors.set(
        plural,
        new Reflector({
          api,
          plural,
          ...(o.namespace ? { namespace: o.namespace } : {}),
          clock: this.clock,
          ...(o.backoff ? { backoff: o.backoff } : {}),
          logger: this.log,
          pageSize: o.pageSize ?? DEFAULTS.pageSize,
          onEvents: (events) => this.onEvents(plural, events),
          onSynced: () => this.onSynced(plural),
          onHealth: (h) => {
            if (h.state === 'watching') this.scheduler?.reachable();
          },
        }),
      );
    }
    this.unsubscribe = this.twin.onChange((change) => this.onTwinChange(change));
    this.started = true;
    await this.requestReplan();
    // Work left in the outbox by the last run goes first, oldest device first.
    for (const id of this.plan.keys()) this.markIfPending(id);
    this.scheduler.start();
    for (const r of this.reflectors.values()) r.start();
    this.statePoll = this.pollStates();
  }

  /** Stops the watches and the writer; what is not yet written stays in the outbox for next time. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.stopping.abort();
    this.unsubscribe?.();
    this.api?.close();
    await Promise.all([...this.reflectors.values()].map((r) => r.stop()));
    await this.scheduler?.stop();
    await this.statePoll;
    await this.replanning;
    this.outbox?.close();
  }

  health(): CloudSyncHealth {
    const watches: Record<string, ReflectorHealth> = {};
    for (const [plural, r] of this.reflectors) watches[plural] = r.status();
    const writer = this.scheduler?.health() ?? { state: 'stopped', pending: 0, writes: 0 };
    const open = Object.values(watches).every((w) => w.state === 'watching');
    const state = !this.started ? 'stopped' : this.synced.size < this.reflectors.size ? 'starting' : open && writer.state !== 'offline' ? 'synced' : 'degraded';
    return {
      state,
      devices: this.plan.size,
      watches,
      writer,
      api: this.api?.stats() ?? { calls: 0, bytes: 0 },
      problems: [
        ...[...this.problems].map(([key, e]) => ({ key, code: e.code, message: e.message })),
        ...(this.outbox?.lastError ? [{ key: 'outbox', code: 'EDGETWIN_ERR_CLOUD_OUTBOX', message: this.outbox.lastError.message }] : []),
      ],
    };
  }

  // ---- down: cluster → twin ----

  private onEvents(plural: Plural, events: readonly ObjectEvent[]): void {
    for (const { type, object } of events) {
      if (plural === 'devicestatuses') continue;
      const key = `${plural}:${objectKey(object)}`;
      const ours = plural === 'devicemodels' || object.spec?.nodeName === this.opts.nodeName;
      if (type !== 'DELETED' && ours) {
        this.persisted.add(key);
        this.outbox?.putObject(plural, key, object);
      } else if (this.persisted.delete(key)) this.outbox?.putObject(plural, key, undefined);
    }
    if (plural !== 'devicestatuses') void this.requestReplan();
  }

  private onSynced(plural: Plural): void {
    this.synced.add(plural);
    if (plural === 'devicestatuses') return;
    // What the last run cached but the cluster no longer has.
    const live = new Set(this.reflectors.get(plural)!.items().map((o) => `${plural}:${objectKey(o)}`));
    for (const key of [...this.persisted]) {
      if (key.startsWith(`${plural}:`) && !live.has(key)) {
        this.persisted.delete(key);
        this.outbox?.putObject(plural, key, undefined);
      }
    }
    void this.requestReplan();
  }

  private source(plural: Plural, kind: string): KubeObject[] {
    return this.synced.has(plural) ? this.reflectors.get(plural)!.items() : this.cached.filter((o) => o.kind === kind);
  }

  /** Coalesces bursts of watch events into one replan at a time. */
  private requestReplan(): Promise<void> {
    if (this.replanQueued) return this.replanning;
    this.replanQueued = true;
    this.replanning = this.replanning.then(async () => {
      this.replanQueued = false;
      if (!this.started) return;
      try {
        await this.replan();
      } catch (err) {
        this.log.error({ err }, 'cloud sync: replanning membership failed');
      }
    });
    return this.replanning;
  }

  private async replan(): Promise<void> {
    const plan = this.planner!.plan(this.source('devices', 'Device'), this.source('devicemodels', 'DeviceModel'));
    for (const key of [...this.problems.keys()]) if (key.startsWith('plan:')) this.problems.delete(key);
    for (const p of plan.problems) {
      this.problems.set(`plan:${p.key}`, p.error);
      this.log.warn({ key: p.key, code: p.error.code }, `cloud sync: skipped: ${p.error.message}`);
    }
    const prev = this.plan;
    const next = plan.devices;
    // Fields edgetwin does not implement, once per new or changed Device (schemas/devices.ts).
    for (const [id, d] of next) {
      if (prev.get(id)?.instance === d.instance) continue;
      for (const w of d.instance.warnings ?? []) this.log.warn({ code: w.code, device: id, path: w.path }, `cloud sync: device ${id}: ${w.path ?? ''}: ${w.message}`);
    }
    const changed = prev.size !== next.size || [...next].some(([id, d]) => prev.get(id)?.instance !== d.instance || prev.get(id)?.model !== d.model);
    this.plan = new Map(next);
    if (changed) {
      try {
        const bound = [...next.values()].map((d) => ({ instance: d.instance, model: d.model }));
        await this.twin.setDevices(bound, 'cluster');
        await this.opts.onDevices?.(bound);
      } catch (err) {
        this.log.error({ err }, 'cloud sync: binding cluster devices failed');
      }
    }
    for (const id of prev.keys()) {
      if (next.has(id)) continue;
      // Deleted or re-assigned: its status now belongs to another node (or to nobody).
      this.scheduler?.forget(id);
      this.outbox?.dropDevice(id);
      this.book?.drop(id);
      for (const m of [this.desiredSync, this.rejected, this.inflightDesired]) m.delete(id);
      this.desiredUp.delete(id);
    }
    for (const [id, d] of next) {
      if (prev.get(id) === d) continue;
      if (!prev.has(id)) this.seedRows(d);
      await this.reconcileDesired(d);
    }
  }

  /** Specs' desired values against the twin and the last sync: apply the cloud's, or queue the edge's. */
  private async reconcileDesired(d: ClusterDevice): Promise<void> {
    const toTwin = new Map<string, string>();
    for (const p of d.instance.properties) {
      if (d.model.properties.get(p.name)?.readOnly) continue;
      const cloud = d.desired.get(p.name);
      if (cloud !== undefined && this.rejected.get(d.id)?.get(p.name) === cloud) continue;
      const action = decideDesired({
        cloud,
        edge: this.twin.get(d.id)?.twins[p.name]?.expected?.value,
        synced: this.desiredSync.get(d.id)?.get(p.name),
        ...(this.inflightDesired.get(d.id)?.has(p.name) ? { inflight: this.inflightDesired.get(d.id)!.get(p.name)! } : {}),
      });
      if (action.kind === 'to-twin') toTwin.set(p.name, action.value);
      else if (action.kind === 'agree') this.recordSynced(d.id, p.name, action.value);
      else if (action.kind === 'to-cloud') this.queueDesiredUp(d.id);
    }
    if (toTwin.size === 0) return;
    try {
      await this.twin.update(d.id, Object.fromEntries([...toTwin].map(([k, v]) => [k, { expected: v }])), { origin: 'cloud' });
      for (const [k, v] of toTwin) this.recordSynced(d.id, k, v);
    } catch {
      // All-or-nothing in the twin: apply one by one so one bad value does not hold back the rest.
      for (const [k, v] of toTwin) {
        try {
          await this.twin.update(d.id, { [k]: { expected: v } }, { origin: 'cloud' });
          this.recordSynced(d.id, k, v);
        } catch (err) {
          const e = isEdgetwinError(err) ? err : toEdgetwinError(err);
          const rejected = this.rejected.get(d.id) ?? new Map<string, string>();
          rejected.set(k, v);
          this.rejected.set(d.id, rejected);
          this.problems.set(`desired:${d.id}/${k}`, e);
          this.log.warn({ device: d.id, property: k, code: e.code }, `cloud sync: desired value from the cluster rejected: ${e.message}`);
        }
      }
    }
  }

  private recordSynced(id: string, property: string, value: string | null): void {
    const m = this.desiredSync.get(id) ?? new Map<string, string | null>();
    if (m.has(property) && m.get(property) === value) return;
    m.set(property, value);
    this.desiredSync.set(id, m);
    this.outbox?.putDesired(id, property, value);
    this.rejected.get(id)?.delete(property);
    this.problems.delete(`desired:${id}/${property}`);
  }

  private queueDesiredUp(id: string): void {
    this.desiredUp.add(id);
    this.scheduler?.mark(id, this.book!.next(), this.plan.get(id)?.reportCycle ?? this.cycle);
  }

  // ---- up: twin → cluster ----

  private reportedSet(d: ClusterDevice): ReadonlySet<string> {
    let s = this.reportedSets.get(d);
    if (!s) {
      s = new Set(d.reported);
      this.reportedSets.set(d, s);
    }
    return s;
  }

  private onTwinChange(change: TwinChange): void {
    const d = this.plan.get(change.id);
    if (!d) return;
    const reported = this.reportedSet(d);
    let dirty = false;
    for (const p of change.changed) {
      if (reported.has(p)) dirty = this.book!.advance(d.id, p, change.device.twins[p]) || dirty;
    }
    if (dirty) this.markIfPending(d.id);
    if (change.origin === 'cloud') return;
    const listed = new Set(d.instance.properties.map((p) => p.name));
    for (const p of change.changed) {
      if (!listed.has(p)) continue;
      const edge = change.device.twins[p]?.expected?.value;
      const action = decideDesired({ cloud: d.desired.get(p), edge, synced: this.desiredSync.get(d.id)?.get(p) });
      if (action.kind === 'to-cloud') this.queueDesiredUp(d.id);
    }
  }

  /** A newly bound device: rows from its twin now, and a state row so its status object exists. */
  private seedRows(d: ClusterDevice): void {
    const state = this.twin.get(d.id);
    for (const p of d.reported) this.book!.advance(d.id, p, state?.twins[p]);
    if (!this.book!.stateOf(d.id)) this.book!.setState(d.id, state?.state ?? 'unknown', state?.lastOnline ?? '');
    this.markIfPending(d.id);
  }

  /** Device state is not a twin change event: compare it once per report cycle. */
  private async pollStates(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await this.clock.delay(this.cycle, this.stopping.signal);
      for (const id of this.plan.keys()) {
        const s = this.twin.get(id);
        if (s && this.book!.setState(id, s.state, s.lastOnline)) this.markIfPending(id);
      }
    }
  }

  private markIfPending(id: string): void {
    const since = this.book?.pendingSince(id);
    if (since !== undefined) this.scheduler?.mark(id, since, this.plan.get(id)?.reportCycle ?? this.cycle);
  }

  private setProblem(id: string, error: EdgetwinError | undefined): void {
    if (error) this.problems.set(`write:${id}`, error);
    else this.problems.delete(`write:${id}`);
  }

  /** One device's turn with the writer: edge desired values first, then the status. */
  private async work(id: string): Promise<Outcome> {
    let outcome: Outcome = 'done';
    if (this.desiredUp.delete(id)) {
      outcome = await this.writer!.pushDesired(
        id,
        (device) => this.edgeDesired(id, device),
        (values) => {
          for (const [k, v] of values) this.recordSynced(id, k, v);
          this.inflightDesired.delete(id);
        },
      );
      if (outcome === 'unreachable' || outcome === 'retry') this.desiredUp.add(id);
      if (outcome === 'unreachable') return outcome;
    }
    if (this.book!.pendingSince(id) === undefined) return outcome;
    const status = await this.writer!.write(id);
    return status === 'done' ? outcome : status;
  }

  /** The edge-side desired values to push into `device`'s spec (the cloud wins if it changed too). */
  private edgeDesired(id: string, device: KubeObject): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    const props = Array.isArray(device.spec?.properties) ? (device.spec.properties as Array<{ name?: unknown; desired?: { value?: unknown } }>) : [];
    for (const p of props) {
      if (typeof p.name !== 'string') continue;
      const cloud = typeof p.desired?.value === 'string' ? p.desired.value : undefined;
      const action = decideDesired({ cloud, edge: this.twin.get(id)?.twins[p.name]?.expected?.value, synced: this.desiredSync.get(id)?.get(p.name) });
      if (action.kind === 'to-cloud') out.set(p.name, action.value);
    }
    if (out.size > 0) this.inflightDesired.set(id, new Map(out));
    return out;
  }
}
