// edgetwin → one registered mapper (DeviceMapperService on the mapper's socket). Not a queue of
// calls but a reconciler: `want` holds the latest Device and DeviceModel messages the mapper
// should have, `have` what it acknowledged, and one loop sends the difference, one call at a
// time, models before the devices that use them and removals last. A change made while a call
// is in flight or the mapper is down just replaces `want`: calls coalesce per device and the
// latest wins, and whoever changes `want` (the twin's change listener) never waits.
//
// Calls carry a deadline (edgecore's is 10 s, kubeedge/kubeedge edge/pkg/devicetwin/dmiclient).
// A mapper that cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED) is retried with backoff for
// as long as it is registered; a call it refuses is retried a few times, then parked until its
// message changes. Reachability is watched on a persistent channel (dmi/reachability.ts), and
// reported so the edge can mark the mapper's devices offline.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { formatError } from '../errors.js';
import type { PbDevice, PbDeviceModel, PbGetDeviceResponse, PbTwin } from './messages.js';
import { callUnary, dmiServices, fromServiceError, isRetryable, isServiceError, LOCAL_CHANNEL_OPTIONS, statusName, unixTarget } from './proto.js';
import { Reachability } from './reachability.js';
import type { MapperRegistration } from './registry.js';

export type LinkMessage =
  | { readonly kind: 'device'; readonly key: string; readonly digest: string; readonly message: PbDevice; readonly modelKey: string }
  | { readonly kind: 'model'; readonly key: string; readonly digest: string; readonly message: PbDeviceModel };

export const deviceKey = (namespace: string, name: string): string => `device:${namespace}/${name}`;
export const modelKey = (namespace: string, name: string): string => `model:${namespace}/${name}`;

export interface LinkCall {
  readonly protocol: string;
  readonly method: string;
  readonly seconds: number;
  /** The gRPC status name: OK, UNAVAILABLE, UNKNOWN… */
  readonly status: string;
}

export interface MapperLinkOptions {
  readonly registration: MapperRegistration;
  readonly logger: Logger;
  /** Deadline of one call (ms). */
  readonly callTimeoutMs: number;
  /** Backoff before retry `n` (n ≥ 1), with jitter: the mapper runtime's (mappers/sdk policy.ts), injected. */
  readonly retryDelay: (failures: number) => number;
  /** Attempts of a call the mapper refuses before it is parked until its message changes. */
  readonly maxAttempts: number;
  /** After a (re-)registration, how long the mapper may take to open its socket before it counts as down. */
  readonly graceMs: number;
  readonly onReachable: (reachable: boolean) => void;
  /** `have` changed (the edge persists its digests). */
  readonly onDelivered: () => void;
  readonly onCall?: (call: LinkCall) => void;
  /** GetDevice's twins during a reconcile (the edge takes their reported values). */
  readonly onDeviceTwins?: (namespace: string, name: string, twins: readonly PbTwin[]) => void;
}

interface Parked {
  readonly digest: string;
  readonly attempts: number;
  readonly retryAt: number;
}

/** A digest that matches no message: forces an UpdateDevice. */
const STALE = 'stale';

export class MapperLink {
  private o: MapperLinkOptions;
  private client: grpc.Client;
  private readonly want = new Map<string, LinkMessage>();
  private readonly have = new Map<string, { digest: string; viaRegister?: boolean }>();
  private readonly refused = new Map<string, Parked>();
  private readonly dirtyModels = new Set<string>();
  private readonly dirtyDevices = new Set<string>();
  private readonly toReconcile = new Set<string>();
  private closed = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private failures = 0;
  private readonly reach: Reachability;
  private readonly counts = { calls: 0, failed: 0 };

  constructor(options: MapperLinkOptions) {
    this.o = options;
    this.client = this.connect(options.registration.address);
    this.reach = new Reachability({
      channel: () => this.client.getChannel(),
      graceMs: options.graceMs,
      onChange: (reachable) => {
        this.o.logger[reachable ? 'info' : 'warn']({ protocol: this.protocol, address: this.o.registration.address }, reachable ? 'DMI mapper reachable' : 'DMI mapper unreachable');
        this.o.onReachable(reachable);
      },
      onReady: () => {
        // The mapper is back: what waits for it need not wait out its backoff.
        this.failures = 0;
        this.wake();
      },
    });
  }

  get protocol(): string {
    return this.o.registration.protocol;
  }

  get registration(): MapperRegistration {
    return { ...this.o.registration, delivered: this.delivered() };
  }

  /** Starts the send loop and the reachability watch. */
  start(): void {
    this.reach.watch();
    this.loop ??= this.run();
  }

  /**
   * A new registration of this protocol (a mapper started or restarted): it now has exactly what
   * the MapperRegister answer gave it. With `reconcile`, GetDevice checks each of those devices.
   */
  newSession(registration: MapperRegistration, delivered: readonly LinkMessage[], reconcile: boolean): void {
    if (registration.address !== this.o.registration.address) {
      this.client.close();
      this.client = this.connect(registration.address);
    }
    this.o = { ...this.o, registration };
    this.have.clear();
    this.refused.clear();
    this.toReconcile.clear();
    for (const m of delivered) this.have.set(m.key, { digest: m.digest, ...(m.kind === 'model' ? { viaRegister: true } : {}) });
    if (reconcile) for (const m of delivered) if (m.kind === 'device') this.toReconcile.add(m.key);
    this.failures = 0;
    this.markAllDirty();
    this.reach.newSession();
    this.o.onDelivered();
    this.wake();
  }

  /** After an edgetwin restart: what the mapper acknowledged before, to be checked with GetDevice. */
  restore(delivered: Readonly<Record<string, string>>): void {
    for (const [key, digest] of Object.entries(delivered)) {
      // Models count as given in MapperRegister: CreateDeviceModel goes again before an update.
      this.have.set(key, { digest, ...(key.startsWith('model:') ? { viaRegister: true } : {}) });
      if (key.startsWith('device:')) this.toReconcile.add(key);
    }
    this.markAllDirty();
    // The mapper may have died with edgetwin down: after the grace it counts as down.
    this.reach.newSession();
    this.wake();
  }

  /** Replaces everything the mapper should have. */
  setWant(messages: readonly LinkMessage[]): void {
    const next = new Map(messages.map((m) => [m.key, m]));
    for (const key of this.want.keys()) if (!next.has(key)) this.markDirty(key);
    for (const [key, m] of next) if (this.want.get(key)?.digest !== m.digest) this.markDirty(key);
    this.want.clear();
    for (const [key, m] of next) this.want.set(key, m);
    this.wake();
  }

  /** One device's message changed (a desired value): the latest replaces any not yet sent. */
  putWant(message: LinkMessage): void {
    if (this.want.get(message.key)?.digest === message.digest) return;
    this.want.set(message.key, message);
    this.markDirty(message.key);
    this.wake();
  }

  wanted(key: string): LinkMessage | undefined {
    return this.want.get(key);
  }

  /** Device keys the mapper should serve. */
  wantedDevices(): string[] {
    return [...this.want.values()].filter((m) => m.kind === 'device').map((m) => m.key);
  }

  /** Digests of what the mapper acknowledged (persisted by the edge). */
  delivered(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, h] of this.have) if (h.digest !== STALE) out[key] = h.digest;
    return out;
  }

  status(): { protocol: string; address: string; reachable: boolean; devices: number; pending: number; parked: number; calls: number; failedCalls: number } {
    let devices = 0;
    for (const key of this.have.keys()) if (key.startsWith('device:')) devices++;
    let parked = 0;
    for (const p of this.refused.values()) if (p.attempts >= this.o.maxAttempts) parked++;
    return {
      protocol: this.protocol,
      address: this.o.registration.address,
      reachable: this.reach.up,
      devices,
      pending: this.dirtyModels.size + this.dirtyDevices.size + this.toReconcile.size,
      parked,
      calls: this.counts.calls,
      failedCalls: this.counts.failed,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reach.close();
    this.wake();
    await this.loop;
    this.client.close();
  }

  private connect(address: string): grpc.Client {
    return new grpc.Client(unixTarget(address), grpc.credentials.createInsecure(), LOCAL_CHANNEL_OPTIONS);
  }

  private markDirty(key: string): void {
    (key.startsWith('model:') ? this.dirtyModels : this.dirtyDevices).add(key);
  }

  private markAllDirty(): void {
    for (const key of [...this.want.keys(), ...this.have.keys()]) this.markDirty(key);
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /** Sleeps until woken, `ms` passes, or close(). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.wake(), Math.max(0, ms)) : undefined;
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.closed) this.wake();
    });
  }

  // ---- the send loop ------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (!this.closed) {
      const step = this.nextStep();
      if (step === undefined) {
        await this.sleep(this.nextRetryIn());
        continue;
      }
      const ok = await step();
      if (ok === 'retry') {
        this.failures++;
        await this.sleep(this.o.retryDelay(this.failures));
      } else this.failures = 0;
    }
  }

  /** Time until the earliest parked call may be tried again (Infinity when none). */
  private nextRetryIn(): number {
    let earliest = Infinity;
    const now = Date.now();
    for (const [key, p] of this.refused) {
      if (p.attempts >= this.o.maxAttempts) continue;
      if (this.dirtyModels.has(key) || this.dirtyDevices.has(key)) earliest = Math.min(earliest, p.retryAt - now);
    }
    return earliest;
  }

  private blocked(key: string, digest: string): boolean {
    const p = this.refused.get(key);
    if (!p || p.digest !== digest) return false;
    return p.attempts >= this.o.maxAttempts || p.retryAt > Date.now();
  }

  private nextStep(): (() => Promise<'ok' | 'retry' | 'refused'>) | undefined {
    for (const key of this.toReconcile) return () => this.reconcile(key);
    // Models first: mapper-framework looks a device's model up when it registers it.
    for (const key of this.dirtyModels) {
      const want = this.want.get(key);
      const have = this.have.get(key);
      if (!want) continue; // a removal: after the devices
      if (have?.digest === want.digest) {
        this.dirtyModels.delete(key);
        continue;
      }
      if (this.blocked(key, want.digest)) continue;
      return () => this.send(key, want.digest, have ? 'UpdateDeviceModel' : 'CreateDeviceModel', { model: want.message });
    }
    for (const key of this.dirtyDevices) {
      const want = this.want.get(key);
      const have = this.have.get(key);
      if (!want) {
        if (!have) {
          this.dirtyDevices.delete(key);
          continue;
        }
        const [namespace, name] = splitKey(key);
        return () => this.send(key, undefined, 'RemoveDevice', { deviceName: name, deviceNamespace: namespace });
      }
      if (have?.digest === want.digest) {
        this.dirtyDevices.delete(key);
        continue;
      }
      if (want.kind !== 'device' || this.blocked(key, want.digest)) continue;
      // Mappers generated before KubeEdge 1.21 key models given in MapperRegister by name only,
      // so their UpdateDevice cannot find the model until a CreateDeviceModel brings it
      // (docs/dmi.md, "DevInit"); on newer mappers that call only stores the model again.
      const model = this.have.get(want.modelKey);
      const modelWant = this.want.get(want.modelKey);
      if (have && model?.viaRegister && modelWant?.kind === 'model') {
        return () => this.send(want.modelKey, modelWant.digest, 'CreateDeviceModel', { model: modelWant.message });
      }
      return () => this.send(key, want.digest, have ? 'UpdateDevice' : 'RegisterDevice', { device: want.message });
    }
    if (this.dirtyDevices.size > 0) return undefined; // device work parked for later; models wait
    for (const key of this.dirtyModels) {
      if (this.want.has(key)) continue;
      if (!this.have.has(key)) {
        this.dirtyModels.delete(key);
        continue;
      }
      const [namespace, name] = splitKey(key);
      return () => this.send(key, undefined, 'RemoveDeviceModel', { modelName: name, modelNamespace: namespace });
    }
    return undefined;
  }

  private async call<T>(method: string, request: object): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
    const started = performance.now();
    this.counts.calls++;
    try {
      const value = await callUnary<T>(this.client, dmiServices().mapper, method, request, this.o.callTimeoutMs);
      this.o.onCall?.({ protocol: this.protocol, method, seconds: (performance.now() - started) / 1000, status: 'OK' });
      return { ok: true, value };
    } catch (err) {
      this.counts.failed++;
      this.o.onCall?.({ protocol: this.protocol, method, seconds: (performance.now() - started) / 1000, status: statusName(err) });
      return { ok: false, err };
    }
  }

  /** One call for `key`; `digest` undefined for a removal. */
  private async send(key: string, digest: string | undefined, method: string, request: object): Promise<'ok' | 'retry' | 'refused'> {
    const result = await this.call<object>(method, request);
    if (result.ok) {
      this.refused.delete(key);
      if (digest === undefined) this.have.delete(key);
      else this.have.set(key, { digest });
      this.o.onDelivered();
      return 'ok';
    }
    if (isRetryable(result.err)) {
      if (isServiceError(result.err) && result.err.code === grpc.status.UNAVAILABLE) this.reach.failed();
      this.o.logger.debug({ protocol: this.protocol, method, key, status: statusName(result.err) }, 'DMI call failed; retrying with backoff');
      return 'retry';
    }
    const e = fromServiceError(result.err, `${method} ${key.slice(key.indexOf(':') + 1)} on the ${this.protocol} mapper`);
    if (digest === undefined) {
      // A removal the mapper refuses: it does not have it (mapper-framework: "not found"), or will not drop it; nothing more to do.
      this.o.logger.warn({ protocol: this.protocol, code: e.code }, formatError(e));
      this.have.delete(key);
      this.o.onDelivered();
      return 'refused';
    }
    const attempts = (this.refused.get(key)?.digest === digest ? this.refused.get(key)!.attempts : 0) + 1;
    this.refused.set(key, { digest, attempts, retryAt: Date.now() + this.o.retryDelay(attempts) });
    const parked = attempts >= this.o.maxAttempts;
    this.o.logger.warn({ protocol: this.protocol, code: e.code, attempts }, `${formatError(e)}${parked ? ' (parked until it changes or the mapper registers again)' : ''}`);
    if (parked) (key.startsWith('model:') ? this.dirtyModels : this.dirtyDevices).delete(key);
    return 'refused';
  }

  /** GetDevice on a device the mapper should have: missing → register it; desired values behind → update it. */
  private async reconcile(key: string): Promise<'ok' | 'retry' | 'refused'> {
    const [namespace, name] = splitKey(key);
    const result = await this.call<PbGetDeviceResponse>('GetDevice', { deviceName: name, deviceNamespace: namespace });
    if (!result.ok && isRetryable(result.err)) {
      if (isServiceError(result.err) && result.err.code === grpc.status.UNAVAILABLE) this.reach.failed();
      return 'retry';
    }
    this.toReconcile.delete(key);
    if (!result.ok) {
      // mapper-framework answers an unknown device with an error (status UNKNOWN): register it.
      this.have.delete(key);
      this.markDirty(key);
      this.o.onDelivered();
      return 'ok';
    }
    const twins = result.value.device?.status?.twins ?? [];
    if (twins.length > 0) this.o.onDeviceTwins?.(namespace, name, twins);
    const want = this.want.get(key);
    if (want?.kind === 'device') {
      const desired = new Map((want.message.spec?.properties ?? []).map((p) => [p.name ?? '', p.desired?.value ?? '']));
      const behind = twins.some((t) => t.observedDesired && desired.has(t.propertyName ?? '') && desired.get(t.propertyName ?? '') !== t.observedDesired.value);
      const have = this.have.get(key);
      if (behind || !have) {
        this.have.set(key, { digest: STALE });
        this.markDirty(key);
      }
    }
    return 'ok';
  }
}

function splitKey(key: string): [string, string] {
  const id = key.slice(key.indexOf(':') + 1);
  const slash = id.indexOf('/');
  return [id.slice(0, slash), id.slice(slash + 1)];
}

