// The durable outbox every telemetry sink sits behind (docs/telemetry.md, "Sinks and the outbox").
// enqueue() is synchronous and cheap — it appends to an array — so the twin path never waits for
// a sink, up or down; a timer writes what was enqueued in one transaction. Each sink has a loop
// that reads its oldest records in order, delivers them as a batch, and removes them only once
// the sink said they are stored (at-least-once: a batch cut short is delivered again, which is
// why every record carries an idempotent key). A failure waits backoffMs(failures) — the
// project's one backoff with jitter, mappers/sdk/policy.ts — and tries the same batch again.
// Each sink is bounded (records and bytes): past a bound the oldest records are dropped.

import { setMaxListeners } from 'node:events';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { backoffMs, type BackoffOptions } from '../../mappers/sdk/index.js';
import { isEdgetwinError, toEdgetwinError, type ErrorCode } from '../../errors.js';
import type { Sink, SinkRecord } from '../sink.js';
import { systemClock, type Clock } from '../../clock.js';
import { OutboxStore, type SinkCounts } from './store.js';
import { outboxMetrics } from './metrics.js';

/** Time as the outbox sees it: the project's one injectable clock (clock.ts). */
export type { Clock } from '../../clock.js';

export interface OutboxLimits {
  /** The most records one sink keeps queued; past it the oldest are dropped. */
  readonly maxRecords: number;
  /** The most bytes (of stored records) one sink keeps queued; past it the oldest are dropped. */
  readonly maxBytes: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = { maxRecords: 100_000, maxBytes: 16 * 1024 * 1024 };
/** The outbox's backoff: 500 ms doubling to 30 s, each drawn from [d/2, d]. */
export const OUTBOX_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, jitter: 0.5 };

export interface TelemetryOutboxOptions {
  /** The SQLite file (edgecore: `<dataDir>/telemetry-outbox.db`). */
  readonly file: string;
  readonly clock?: Clock;
  /** Where the depth/drop/delivery series go (edgecore/metrics.ts's registry); none when absent. */
  readonly registry?: Registry;
  readonly logger?: Logger;
  readonly limits?: OutboxLimits;
  /** Records per delivery (default 500). */
  readonly batchSize?: number;
  /** How long enqueued records wait in memory before one transaction writes them (default 20 ms). */
  readonly flushMs?: number;
  /** A delivery still running after this is aborted and counts as a failure (default 10 s). */
  readonly deliveryTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
}

export interface SinkRegistration {
  /** Wait between deliveries while the sink keeps up (the property's reportCycle, ms). */
  readonly intervalMs: number;
  readonly limits?: OutboxLimits;
}

export type SinkHealth = 'idle' | 'delivering' | 'backoff' | 'closed';

export interface SinkStats {
  readonly name: string;
  /** Records waiting (in memory and on disk). */
  readonly depth: number;
  readonly bytes: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly failures: number;
  /** Consecutive failures of the batch now waiting. */
  readonly failing: number;
  readonly state: SinkHealth;
  readonly lastError?: { readonly code: ErrorCode; readonly message: string; readonly at: number };
}

interface Lane {
  readonly sink: Sink;
  readonly intervalMs: number;
  readonly limits: OutboxLimits;
  /** On disk. */
  records: number;
  bytes: number;
  /** In memory, waiting for the next flush. */
  pendingRecords: number;
  pendingBytes: number;
  delivered: number;
  dropped: number;
  failures: number;
  failing: number;
  state: SinkHealth;
  lastError?: SinkStats['lastError'];
  wake?: () => void;
  loop?: Promise<void>;
  /** Ends this lane alone (unregister). */
  readonly halt: AbortController;
}

export class TelemetryOutbox {
  private readonly store: OutboxStore;
  private readonly clock: Clock;
  private readonly lanes = new Map<string, Lane>();
  private pending: { sink: string; bytes: number; rec: string }[] = [];
  private flushTimer?: NodeJS.Timeout;
  private readonly stop = new AbortController();
  private leftover = new Map<string, SinkCounts>();
  private opened = false;

  constructor(private readonly opts: TelemetryOutboxOptions) {
    // Every sink's loop waits on this one signal: a thousand sinks are a thousand listeners.
    setMaxListeners(0, this.stop.signal);
    this.store = new OutboxStore(opts.file);
    this.clock = opts.clock ?? systemClock;
  }

  /** Opens the file (throws EDGETWIN_ERR_OUTBOX_OPEN); records queued before a restart are kept. */
  open(): void {
    this.leftover = this.store.open();
    this.opened = true;
    if (this.opts.registry) outboxMetrics(this.opts.registry, () => this.stats());
  }

  /** Names with records on disk from before this start (a sink no manifest declares any more keeps them). */
  leftoverSinks(): string[] {
    return [...this.leftover.keys()].filter((n) => !this.lanes.has(n));
  }

  /** Adds a sink and starts its delivery loop; its records from before a restart go first. */
  register(sink: Sink, reg: SinkRegistration): void {
    if (!this.opened) throw new Error('TelemetryOutbox.open() first');
    if (this.lanes.has(sink.name)) throw new Error(`sink ${sink.name} is already registered`);
    const before = this.leftover.get(sink.name) ?? { records: 0, bytes: 0 };
    const lane: Lane = {
      sink,
      intervalMs: Math.max(0, reg.intervalMs),
      limits: reg.limits ?? this.opts.limits ?? DEFAULT_OUTBOX_LIMITS,
      records: before.records,
      bytes: before.bytes,
      pendingRecords: 0,
      pendingBytes: 0,
      delivered: 0,
      dropped: 0,
      failures: 0,
      failing: 0,
      state: 'idle',
      halt: new AbortController(),
    };
    this.lanes.set(sink.name, lane);
    lane.loop = this.run(lane);
  }

  /**
   * Stops a sink's delivery and closes it (its device or method went away on a reload); what it
   * had queued stays on disk, as a sink no manifest declares, and goes out if it is registered again.
   */
  async unregister(name: string): Promise<void> {
    const lane = this.lanes.get(name);
    if (!lane) return;
    lane.halt.abort();
    lane.wake?.();
    await lane.loop;
    this.flush();
    this.lanes.delete(name);
    this.leftover.set(name, { records: lane.records, bytes: lane.bytes });
    lane.state = 'closed';
    await lane.sink.close().catch((err: unknown) => this.opts.logger?.warn({ err, sink: name }, 'telemetry sink: close failed'));
  }

  has(sink: string): boolean {
    return this.lanes.has(sink);
  }

  /** Queues one record for `sink`: synchronous, no I/O. An unknown sink is ignored (false). */
  enqueue(sink: string, record: SinkRecord): boolean {
    const lane = this.lanes.get(sink);
    if (!lane || lane.state === 'closed') return false;
    const rec = JSON.stringify(record);
    const bytes = Buffer.byteLength(rec);
    this.pending.push({ sink, bytes, rec });
    lane.pendingRecords++;
    lane.pendingBytes += bytes;
    this.flushTimer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 20);
    return true;
  }

  /** Writes what enqueue() holds in memory, in one transaction, applying each sink's bounds. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0 || !this.opened) return;
    const batch = this.pending;
    this.pending = [];
    const touched = new Set<Lane>();
    for (const e of batch) {
      const lane = this.lanes.get(e.sink);
      if (!lane) continue;
      lane.pendingRecords--;
      lane.pendingBytes -= e.bytes;
      lane.records++;
      lane.bytes += e.bytes;
      touched.add(lane);
    }
    try {
      this.store.append(
        batch,
        (name) => {
          const l = this.lanes.get(name);
          return l ? { records: l.records - l.limits.maxRecords, bytes: l.bytes - l.limits.maxBytes } : undefined;
        },
        (name, bytes) => {
          const l = this.lanes.get(name);
          if (!l) return;
          l.records--;
          l.bytes -= bytes;
          l.dropped++;
        },
      );
    } catch (err) {
      // The file is unwritable (disk full): these records are lost, counted as drops.
      for (const e of batch) {
        const l = this.lanes.get(e.sink);
        if (!l) continue;
        l.records--;
        l.bytes -= e.bytes;
        l.dropped++;
      }
      this.opts.logger?.error({ err: toEdgetwinError(err) }, 'telemetry outbox: could not write queued values');
    }
    for (const lane of touched) lane.wake?.();
  }

  stats(): SinkStats[] {
    return [...this.lanes.values()].map((l) => ({
      name: l.sink.name,
      depth: l.records + l.pendingRecords,
      bytes: l.bytes + l.pendingBytes,
      delivered: l.delivered,
      dropped: l.dropped,
      failures: l.failures,
      failing: l.failing,
      state: l.state,
      ...(l.lastError ? { lastError: l.lastError } : {}),
    }));
  }

  /** Size of the outbox file (pages in use × page size). */
  fileBytes(): number {
    return this.store.fileBytes();
  }

  /** Stops every loop (aborting deliveries in flight), writes what is in memory, closes the file and the sinks. */
  async close(): Promise<void> {
    if (!this.opened) return;
    this.stop.abort();
    for (const lane of this.lanes.values()) lane.wake?.();
    await Promise.all([...this.lanes.values()].map((l) => l.loop ?? Promise.resolve()));
    this.flush();
    this.opened = false;
    this.store.close();
    await Promise.all(
      [...this.lanes.values()].map((l) => {
        l.state = 'closed';
        return l.sink.close().catch((err: unknown) => this.opts.logger?.warn({ err, sink: l.sink.name }, 'telemetry sink: close failed'));
      }),
    );
  }

  private idle(lane: Lane): Promise<void> {
    return new Promise<void>((resolve) => {
      lane.wake = () => {
        lane.wake = undefined;
        resolve();
      };
    });
  }

  private async run(lane: Lane): Promise<void> {
    const signal = AbortSignal.any([this.stop.signal, lane.halt.signal]);
    const batchSize = this.opts.batchSize ?? 500;
    while (!signal.aborted) {
      if (lane.records === 0) {
        lane.state = lane.failing > 0 ? 'backoff' : 'idle';
        await this.idle(lane);
        continue;
      }
      // While the sink fails, each retry is a probe of one record: a long outage costs a retry
      // per backoff, not a read of a whole batch.
      const rows = this.store.peek(lane.sink.name, lane.failing > 0 ? 1 : batchSize);
      const last = rows.at(-1);
      if (!last) {
        lane.records = 0;
        lane.bytes = 0;
        continue;
      }
      lane.state = 'delivering';
      try {
        const timeout = AbortSignal.timeout(this.opts.deliveryTimeoutMs ?? 10_000);
        await lane.sink.deliver(
          rows.map((r) => r.record),
          AbortSignal.any([signal, timeout]),
        );
        const removed = this.store.remove(lane.sink.name, last.seq);
        lane.records -= removed.records;
        lane.bytes -= removed.bytes;
        lane.delivered += rows.length;
        lane.failing = 0;
        // Keeping up: the next batch on the property's reportCycle; behind: straight on.
        if (lane.records < batchSize && lane.intervalMs > 0) {
          lane.state = 'idle';
          await this.clock.delay(lane.intervalMs, signal);
        }
      } catch (err) {
        if (signal.aborted) return;
        const e = isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_SINK_UNAVAILABLE');
        if (lane.sink.isPermanent?.(e) === true) {
          // Refused for good (telemetry/sink.ts isPermanent): retrying would hold every later value behind it.
          const removed = this.store.remove(lane.sink.name, last.seq);
          lane.records -= removed.records;
          lane.bytes -= removed.bytes;
          lane.dropped += rows.length;
          lane.lastError = { code: e.code, message: e.message, at: this.clock.now() };
          this.opts.logger?.warn({ sink: lane.sink.name, code: e.code, dropped: rows.length }, `telemetry sink ${lane.sink.name} refused ${rows.length} value(s) for good, dropped: ${e.message}`);
          continue;
        }
        lane.failures++;
        lane.failing++;
        lane.lastError = { code: e.code, message: e.message, at: this.clock.now() };
        if (lane.failing === 1 || lane.failing % 20 === 0) {
          this.opts.logger?.warn({ sink: lane.sink.name, code: e.code, failing: lane.failing, depth: lane.records }, `telemetry sink ${lane.sink.name}: ${e.message}`);
        }
        lane.state = 'backoff';
        await this.clock.delay(backoffMs(lane.failing, this.opts.backoff ?? OUTBOX_BACKOFF, this.opts.random), signal);
      }
    }
  }
}
