// One device under a mapper: polls its properties on their collectCycle through a serial
// queue, reports changed readings to its twin, applies desired values (write → read back →
// report actual → ack), and tracks availability. It never stops on an error: failures back
// off with jitter, N in a row mark the device offline, the first success marks it online.

import type { Logger } from 'pino';
import { isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { Bus, Subscription } from '../../eventbus/index.js';
import { publishDevice, TwinClient, type DeviceTwinDelta, type MsgTwin } from '../../wire/index.js';
import type { DeviceInstance, DeviceModel, PropertyValue } from '../../schemas/index.js';
import { bindDevice, type RuntimePropertyOptions } from './config.js';
import { backoffMs, cycleMs, sameReading, shouldReport, type BackoffOptions, type LastReport } from './policy.js';
import { ReportOutbox, type TwinEntry } from './outbox.js';
import { SerialQueue } from './queue.js';
import type { DeviceDriver, DriverProperty, MapperFactory, ReadResult } from './types.js';
import type { PollReport } from './runtime.js';

export interface WorkerOptions {
  readonly bus: Bus;
  readonly factory: MapperFactory;
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
  readonly logger: Logger;
  readonly now: () => number;
  /** Deadline of one request to the device (default 2000 ms). */
  readonly timeoutMs: number;
  /** Consecutive failed polls before the device is reported offline (default 3). */
  readonly offlineAfter: number;
  /** Attempts of one desired value before its ack is `failed` (default 3). */
  readonly writeAttempts: number;
  /**
   * Period (ms) of the re-sync that retries failed desired values (default 60 s): the twin is
   * asked for its desired values again and each one still `failed` is written once more.
   */
  readonly resyncMs: number;
  readonly backoff: BackoffOptions;
  readonly onPoll?: (poll: PollReport) => void;
  /**
   * Report every successful reading, not only changes: KubeEdge's DMI mappers report each
   * property on every collectCycle (mapper-framework devicetwin.go), and the DMI transport
   * (mappers/sdk/dmi-transport.ts) keeps that cadence.
   */
  readonly reportEveryPoll?: boolean;
}

/** Errors that no retry can fix: the device (or config) refuses the value. */
const PERMANENT = new Set<string>([
  'EDGETWIN_ERR_PROPERTY_NOT_WRITABLE',
  'EDGETWIN_ERR_MODBUS_VALUE_RANGE',
  'EDGETWIN_ERR_MODBUS_EXCEPTION',
  'EDGETWIN_ERR_MAPPER_CONFIG',
  'EDGETWIN_ERR_VALUE_TYPE',
  'EDGETWIN_ERR_MODEL_VALIDATION',
]);

type Availability = 'unknown' | 'online' | 'offline';

interface DesiredState {
  readonly value: string;
  status: 'queued' | 'applied' | 'rejected' | 'failed';
}

export class DeviceWorker {
  readonly id: string;
  private readonly o: WorkerOptions;
  private readonly queue = new SerialQueue();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly last = new Map<string, LastReport>();
  private readonly desired = new Map<string, DesiredState>();
  private readonly inFlight = new Set<readonly DriverProperty[]>();
  /** Readings, acks and availability until the twin acknowledges them (outbox.ts). */
  private readonly outbox: ReportOutbox;
  /** The twin's MQTT API (wire/client.ts): desired values and deltas. */
  private readonly twin: TwinClient;
  private driver?: DeviceDriver;
  private props = new Map<string, DriverProperty>();
  private options: ReadonlyMap<string, RuntimePropertyOptions> = new Map();
  private deltaSub?: Subscription;
  private offConnection?: () => void;
  private unsubscribePush?: () => Promise<void>;
  private failures = 0;
  private nextAttemptAt = 0;
  private availability: Availability = 'unknown';
  private stopped = false;
  /** The re-fetch of desired values in progress, so triggers that coincide share one. */
  private resyncing?: Promise<void>;
  private lastError?: EdgetwinError;
  /** Cumulative, for metrics: polls, polls that read nothing, requests past their deadline. */
  private readonly counts = { polls: 0, pollFailures: 0, timeouts: 0 };

  constructor(options: WorkerOptions) {
    this.o = options;
    this.id = options.instance.id;
    const device = options.instance;
    this.twin = new TwinClient(options.bus, { timeoutMs: options.timeoutMs });
    // Reports carry no event_id to wait on: the PUBACK (after the twin's commit) is the answer.
    this.outbox = new ReportOutbox({
      backoff: options.backoff,
      logger: options.logger,
      sendTwin: (twin) => publishDevice(options.bus, device, 'twin/update', { event_id: '', timestamp: options.now(), twin: { ...twin } }, { qos: 1 }),
      sendState: (state) => publishDevice(options.bus, device, 'state/update', { event_id: '', timestamp: options.now(), state }, { qos: 1 }),
    });
  }

  /** Validates the config (throws EDGETWIN_ERR_MAPPER_CONFIG), then starts polling and listening. */
  async start(): Promise<void> {
    const { factory, instance, model } = this.o;
    const bound = bindDevice(factory, instance, model);
    for (const w of bound.warnings) this.o.logger.warn({ device: this.id, code: w.code, path: w.path }, `device ${this.id}: ${w.message}`);
    this.options = bound.options;
    this.props = new Map(bound.driverDevice.properties.map((p) => [p.name, p]));
    this.driver = factory.connect({ logger: this.o.logger, now: this.o.now }, bound.driverDevice);
    this.deltaSub = await this.twin.deltas(instance.id, (message) => this.onDelta(message));
    // A bus that is down right now must not keep the device unmapped: the reconnect hook below
    // fetches again.
    await this.fetchDesired().catch((err: unknown) => this.o.logger.warn({ err, device: this.id }, 'could not fetch desired values; fetched again on reconnect'));
    // Over MQTT, deltas sent while this process was cut off from the broker are lost (the twin
    // publishes them at QoS 0 by default, mqtt.answerQos): fetch the desired values again on
    // every reconnect.
    let wasConnected = true;
    this.offConnection = this.o.bus.onConnectionChange?.((connected) => {
      if (connected && !wasConnected && !this.stopped) {
        this.fetchDesired().catch((err: unknown) => this.o.logger.warn({ err, device: this.id }, 'could not re-fetch desired values'));
      }
      wasConnected = connected;
    });
    const groups = new Map<number, DriverProperty[]>();
    for (const p of this.props.values()) {
      const cycle = cycleMs(p.instance.collectCycle);
      groups.set(cycle, [...(groups.get(cycle) ?? []), p]);
    }
    for (const [cycle, group] of groups) {
      void this.poll(group);
      this.timers.push(setInterval(() => void this.poll(group), cycle));
    }
    // A value that failed while the device seemed fine (a write refused on a busy link, a
    // timeout) has no offline → online transition to wait for: the periodic re-sync retries it.
    // While offline the device's return does it instead (succeeded()).
    this.timers.push(
      setInterval(() => {
        if (this.availability !== 'offline') this.retryFailed('periodic re-sync');
      }, this.o.resyncMs),
    );
  }

  /** What the runtime knows of the device, for health and metrics. */
  status(): {
    id: string;
    protocol: string;
    availability: Availability;
    failures: number;
    lastError?: EdgetwinError;
    queued: number;
    polls: number;
    pollFailures: number;
    timeouts: number;
    /** Connections opened again after the first (drivers that count them: `DeviceDriver.connects`). */
    reconnects: number;
  } {
    return {
      id: this.id,
      protocol: this.o.factory.protocol,
      availability: this.availability,
      failures: this.failures,
      queued: this.queue.pending,
      ...this.counts,
      reconnects: Math.max(0, (this.driver?.connects ?? 0) - 1),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.outbox.close();
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.queue.close();
    this.offConnection?.();
    await this.deltaSub?.unsubscribe();
    await this.unsubscribePush?.().catch(() => undefined);
    await this.driver?.close();
  }

  /** One poll of a group of properties sharing a collectCycle; skipped while backing off. */
  private async poll(group: readonly DriverProperty[]): Promise<void> {
    if (this.stopped || this.inFlight.has(group) || this.o.now() < this.nextAttemptAt) return;
    this.inFlight.add(group);
    const started = performance.now();
    this.counts.polls++;
    try {
      const results = await this.queue.push('read', this.o.timeoutMs, (signal) => this.driver!.read(group, signal));
      this.o.onPoll?.({ device: this.id, protocol: this.o.factory.protocol, seconds: (performance.now() - started) / 1000, ok: results.some((r) => r.ok) || group.length === 0 });
      const ok = this.report(group, results);
      if (ok) this.succeeded();
      else this.failed(results.find((r): r is Extract<ReadResult, { ok: false }> => !r.ok)?.error);
    } catch (err) {
      this.o.onPoll?.({ device: this.id, protocol: this.o.factory.protocol, seconds: (performance.now() - started) / 1000, ok: false });
      this.failed(toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONNECTION'));
    } finally {
      this.inFlight.delete(group);
    }
  }

  /** Reports what changed (through the outbox, which keeps it until acknowledged); true if at least one property was read. */
  private report(group: readonly DriverProperty[], results: readonly ReadResult[]): boolean {
    const now = this.o.now();
    const twin: Record<string, TwinEntry> = {};
    let anyOk = false;
    group.forEach((prop, i) => {
      const r = results[i];
      if (!r?.ok) return;
      const checked = prop.model.check(r.value);
      if (!checked.ok) {
        this.o.logger.warn({ device: this.id, property: prop.name, code: checked.code }, `reading rejected by the model: ${checked.message}`);
        return;
      }
      anyOk = true;
      const reportCycle = cycleMs(prop.instance.reportCycle);
      if (this.o.reportEveryPoll || shouldReport(this.last.get(prop.name), checked.wire, now, reportCycle, this.options.get(prop.name)?.deadband)) {
        this.last.set(prop.name, { wire: checked.wire, at: now });
        twin[prop.name] = { actual: { value: checked.wire }, metadata: { type: prop.model.type } };
      }
    });
    if (Object.keys(twin).length > 0) this.outbox.putTwin(twin);
    return anyOk || group.length === 0;
  }

  /** A value pushed by the driver (e.g. a BLE notification): same filtering as a poll. */
  private onPush(name: string, result: ReadResult): void {
    const prop = this.props.get(name);
    if (!prop || this.stopped) return;
    if (this.report([prop], [result])) this.succeeded();
  }

  private succeeded(): void {
    this.failures = 0;
    this.nextAttemptAt = 0;
    delete this.lastError;
    if (this.availability !== 'online') {
      this.setAvailability('online');
      // The device answers again: what failed while it did not is worth another try now.
      this.retryFailed('device online');
    }
    if (this.driver?.subscribe && !this.unsubscribePush) void this.subscribePush();
  }

  private failed(error: EdgetwinError | undefined): void {
    if (this.stopped) return;
    this.failures++;
    this.counts.pollFailures++;
    if (error?.code === 'EDGETWIN_ERR_MAPPER_TIMEOUT') this.counts.timeouts++;
    if (error) this.lastError = error;
    this.nextAttemptAt = this.o.now() + backoffMs(this.failures, this.o.backoff);
    this.o.logger.debug({ device: this.id, failures: this.failures, code: error?.code, err: error?.message }, 'poll failed');
    if (this.failures >= this.o.offlineAfter && this.availability !== 'offline') {
      this.o.logger.warn({ device: this.id, code: error?.code }, `device offline after ${this.failures} failed polls: ${error?.message ?? ''}`);
      this.setAvailability('offline');
    }
  }

  private setAvailability(state: 'online' | 'offline'): void {
    this.availability = state;
    this.outbox.putState(state);
  }

  private async subscribePush(): Promise<void> {
    const props = [...this.props.values()];
    try {
      this.unsubscribePush = await this.driver!.subscribe!(props, (name, result) => this.onPush(name, result));
    } catch (err) {
      this.o.logger.debug({ err, device: this.id }, 'subscribe failed; retried after the next successful poll');
    }
  }

  /**
   * Re-fetches the desired values when one of them has failed, so each is written again (the
   * twin's current value, not a stale local copy: a newer one may have been set meanwhile).
   */
  private retryFailed(why: string): void {
    if (this.stopped || this.resyncing || ![...this.desired.values()].some((d) => d.status === 'failed')) return;
    this.o.logger.debug({ device: this.id, why }, 'retrying failed desired values');
    this.resyncing = this.fetchDesired()
      .catch((err: unknown) => this.o.logger.warn({ err, device: this.id }, 'could not re-fetch desired values'))
      .finally(() => (this.resyncing = undefined));
  }

  /** Desired values already in the twin when the mapper starts (a restart must not drop them). */
  private async fetchDesired(): Promise<void> {
    const { twin } = await this.twin.get(this.id);
    for (const [prop, t] of Object.entries(twin)) {
      const value = t?.expected?.value;
      if (value === undefined || value === '' || value === t?.actual?.value || t?.ack?.state === 'rejected') continue;
      this.applyDesired(prop, value, true);
    }
  }

  private onDelta(message: DeviceTwinDelta): void {
    for (const [prop, value] of Object.entries(message.delta)) {
      // `pending` for a value this worker gave up on: someone set it again (merge.ts re-opens it).
      if (typeof value === 'string') this.applyDesired(prop, value, message.twin[prop]?.ack?.state === 'pending');
    }
  }

  /**
   * Closed loop for one desired value. Repeated deltas for the same value are ignored (the twin
   * re-sends the delta on every change while desired ≠ actual); a value whose earlier attempts
   * failed (or were refused) is tried again when asked: a re-fetch (start-up, reconnect, the
   * device back online, the periodic re-sync) or a delta that shows it set again.
   */
  private applyDesired(propName: string, value: string, retry = false): void {
    const prop = this.props.get(propName);
    if (!prop || prop.model.readOnly || this.stopped) return;
    const current = this.desired.get(propName);
    if (current?.value === value && !(retry && (current.status === 'failed' || current.status === 'rejected'))) return;
    const state: DesiredState = { value, status: 'queued' };
    this.desired.set(propName, state);
    void this.runWrite(prop, state);
  }

  private async runWrite(prop: DriverProperty, state: DesiredState): Promise<void> {
    const parsed = prop.model.parse(state.value);
    if (!parsed.ok) return this.ack(prop, state, 'rejected', undefined, toEdgetwinError(new Error(parsed.message), parsed.code));
    for (let attempt = 1; ; attempt++) {
      if (this.stopped || this.desired.get(prop.name) !== state) return; // superseded
      try {
        const readBack = await this.writeAndReadBack(prop, parsed.value);
        const checked = prop.model.check(readBack);
        const wire = checked.ok ? checked.wire : typeof readBack === 'object' ? Buffer.from(readBack).toString('base64') : String(readBack);
        if (sameReading(prop.model.type, parsed.wire, wire)) return this.ack(prop, state, 'applied', wire);
        const err = toEdgetwinError(new Error(`wrote ${parsed.wire} but read back ${wire}`), 'EDGETWIN_ERR_MAPPER_READBACK');
        return this.ack(prop, state, 'failed', wire, err);
      } catch (e) {
        const err = toEdgetwinError(e, 'EDGETWIN_ERR_MAPPER_CONNECTION');
        if (err.code === 'EDGETWIN_ERR_MAPPER_TIMEOUT') this.counts.timeouts++;
        if (PERMANENT.has(err.code)) return this.ack(prop, state, 'rejected', undefined, err);
        if (attempt >= this.o.writeAttempts || (isEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_ABORTED') && this.stopped)) {
          return this.ack(prop, state, 'failed', undefined, err);
        }
        await new Promise((r) => setTimeout(r, backoffMs(attempt, this.o.backoff)));
      }
    }
  }

  private async writeAndReadBack(prop: DriverProperty, value: PropertyValue): Promise<PropertyValue> {
    await this.queue.push('write', this.o.timeoutMs, (signal) => this.driver!.write(prop, value, signal));
    const [result] = await this.queue.push('write', this.o.timeoutMs, (signal) => this.driver!.read([prop], signal));
    if (!result) throw toEdgetwinError(new Error('the driver returned no read-back result'), 'EDGETWIN_ERR_INTERNAL');
    if (!result.ok) throw result.error;
    return result.value;
  }

  private ack(prop: DriverProperty, state: DesiredState, status: 'applied' | 'rejected' | 'failed', actual?: string, error?: EdgetwinError): void {
    if (this.desired.get(prop.name) !== state || this.stopped) return;
    state.status = status;
    if (error) this.o.logger.warn({ device: this.id, property: prop.name, code: error.code }, `desired value ${state.value} ${status}: ${error.message}`);
    const entry: MsgTwin = {
      ack: { state: status, value: state.value, ...(error ? { code: error.code, reason: error.message } : {}) },
      metadata: { type: prop.model.type },
      ...(actual !== undefined ? { actual: { value: actual } } : {}),
    };
    if (actual !== undefined) {
      this.last.set(prop.name, { wire: actual, at: this.o.now() });
    }
    this.outbox.putTwin({ [prop.name]: entry });
  }
}
