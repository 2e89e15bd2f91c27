// KubeEdge's pushMethod/dbMethod on this node (docs/telemetry.md, "Sinks"): builds each bound
// device's sinks, puts them behind the durable outbox and feeds them from the twin. edgecore/app.ts
// starts it once the manifests' devices are bound and stops it after the twin (so every value
// the twin committed is queued before the outbox closes).

import path from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { parseDuration, parseSize, type DeviceInstance, type DeviceModel, type EdgetwinConfig } from '../schemas/index.js';
import { logProblemLine } from './log.js';
import { TelemetryFeed, type FeedSource } from './feed.js';
import { TelemetryOutbox, type Clock, type OutboxLimits, type SinkStats } from './outbox/index.js';
import { buildSinks, type BuiltSink, type Destinations } from './sinks/index.js';
import type { Sink } from './sink.js';

/**
 * A sink that is not a Device's pushMethod but takes the values of many devices through the same
 * outbox: Prometheus remote write (edgecore/prometheus-telemetry.ts). `select` names, per bound
 * device, the properties it takes.
 */
export interface SharedSink {
  readonly sink: Sink;
  /** How often a batch goes out while the sink keeps up (ms). */
  readonly intervalMs: number;
  select(instance: DeviceInstance, model: DeviceModel): ReadonlyArray<{ readonly name: string; readonly unit?: string }>;
}

/** `telemetry.sinks` and `telemetry.outbox` of the config (schemas/config.ts). */
export interface PushTelemetryConfig {
  readonly sinks: { readonly enabled: boolean; readonly destinations: Destinations };
  readonly outbox: { readonly maxRecords: number; readonly maxBytes: number; readonly batchSize: number; readonly deliveryTimeoutMs: number };
}

/** The config file's `telemetry` (sizes and durations resolved). */
export function pushTelemetryConfig(t: EdgetwinConfig['telemetry']): PushTelemetryConfig {
  return {
    sinks: { enabled: t.sinks.enabled, destinations: t.sinks.destinations },
    outbox: {
      maxRecords: t.outbox.maxRecords,
      maxBytes: parseSize(t.outbox.maxBytes) ?? 16 * 1024 * 1024,
      batchSize: t.outbox.batchSize,
      deliveryTimeoutMs: parseDuration(t.outbox.deliveryTimeout) ?? 10_000,
    },
  };
}

export interface PushTelemetryOptions {
  readonly config: PushTelemetryConfig;
  readonly dataDir: string;
  readonly twin: FeedSource;
  readonly logger: Logger;
  readonly registry?: Registry;
  readonly clock?: Clock;
  /** Outbox file; default `<dataDir>/telemetry-outbox.db`. */
  readonly file?: string;
  /** Sinks over many devices (remote write), behind the same outbox. */
  readonly shared?: readonly SharedSink[];
}

type BoundInput = { readonly instance: DeviceInstance; readonly model?: DeviceModel };

export class PushTelemetry {
  private outbox?: TelemetryOutbox;
  private feed?: TelemetryFeed;
  private built: BuiltSink[] = [];
  /** Per registered sink name: what it was built from, so an unchanged sink is kept as it is. */
  private readonly fingerprints = new Map<string, string>();
  private syncing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: PushTelemetryOptions) {}

  /** Builds the sinks of `devices`; opens the outbox only when there is at least one (or a backlog). */
  start(devices: readonly BoundInput[]): void {
    const { config, logger } = this.opts;
    if (!config.sinks.enabled) return;
    const built = this.build(devices);
    const file = this.opts.file ?? path.join(this.opts.dataDir, 'telemetry-outbox.db');
    const shared = this.opts.shared ?? [];
    if (built.length === 0 && shared.length === 0) return;
    const limits: OutboxLimits = { maxRecords: config.outbox.maxRecords, maxBytes: config.outbox.maxBytes };
    const outbox = new TelemetryOutbox({
      file,
      limits,
      batchSize: config.outbox.batchSize,
      deliveryTimeoutMs: config.outbox.deliveryTimeoutMs,
      logger,
      ...(this.opts.registry ? { registry: this.opts.registry } : {}),
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
    });
    outbox.open();
    this.outbox = outbox;
    const feed = new TelemetryFeed({ source: this.opts.twin, target: outbox });
    this.feed = feed;
    for (const b of built) this.add(b, devices);
    for (const s of shared) {
      outbox.register(s.sink, { intervalMs: s.intervalMs });
      this.routeShared(s, devices);
    }
    for (const name of outbox.leftoverSinks()) logger.warn({ sink: name }, `telemetry outbox: values queued for ${name}, which no device declares any more, are kept but not delivered`);
    feed.start();
    const count = this.built.length + shared.length;
    logger.info({ sinks: count }, `telemetry: ${count} sink(s) behind the outbox`);
  }

  /**
   * The node's devices changed (reload, cluster sync): sinks of new devices or changed methods
   * start, those of removed devices stop (their backlog stays on disk), unchanged ones carry on.
   * Calls run one after another; never waited for on the twin path.
   */
  setDevices(devices: readonly BoundInput[]): Promise<void> {
    const run = async (): Promise<void> => {
      const { config } = this.opts;
      if (!config.sinks.enabled) return;
      if (!this.outbox || !this.feed) {
        this.start(devices);
        return;
      }
      const next = this.build(devices);
      const keep = new Set<string>();
      for (const b of next) {
        const fp = fingerprint(b, devices);
        if (this.fingerprints.get(b.sink.name) === fp) {
          keep.add(b.sink.name);
          await b.sink.close(); // the registered one carries on
        }
      }
      for (const old of this.built) {
        if (keep.has(old.sink.name)) continue;
        this.feed.unroute(old.sink.name);
        await this.outbox.unregister(old.sink.name);
        this.fingerprints.delete(old.sink.name);
      }
      this.built = this.built.filter((b) => keep.has(b.sink.name));
      for (const b of next) if (!keep.has(b.sink.name)) this.add(b, devices);
      for (const s of this.opts.shared ?? []) {
        this.feed.unroute(s.sink.name);
        this.routeShared(s, devices);
      }
    };
    const next = this.syncing.then(run);
    this.syncing = next.catch((err: unknown) => this.opts.logger.error({ err }, 'telemetry: updating the sinks failed'));
    return next;
  }

  stats(): SinkStats[] {
    return this.outbox?.stats() ?? [];
  }

  /** The sinks as the console's node page shows them (edgecore/http/node.ts SinkStatus). */
  sinkStatus(): Array<{ name: string; kind: string; state: string; queued: number; delivered: number; failed: number; lastError?: string }> {
    return this.stats().map((s) => ({
      name: s.name,
      kind: s.name.split(':')[0] ?? s.name,
      state: s.state,
      queued: s.depth,
      delivered: s.delivered,
      failed: s.failures,
      ...(s.lastError ? { lastError: `${s.lastError.code}: ${s.lastError.message}` } : {}),
    }));
  }

  /** The outbox (tests, benchmarks); undefined when no sink runs. */
  get queue(): TelemetryOutbox | undefined {
    return this.outbox;
  }

  async stop(): Promise<void> {
    await this.syncing;
    this.feed?.stop();
    this.feed = undefined;
    await this.outbox?.close();
    this.outbox = undefined;
    this.built = [];
    this.fingerprints.clear();
  }

  private build(devices: readonly BoundInput[]): BuiltSink[] {
    const out: BuiltSink[] = [];
    for (const d of devices) {
      const { sinks, problems } = buildSinks(d.instance, d.model, this.opts.config.sinks.destinations);
      out.push(...sinks);
      for (const p of problems) logProblemLine(this.opts.logger, p, d.instance.id);
    }
    return out;
  }

  private add(b: BuiltSink, devices: readonly BoundInput[]): void {
    this.outbox!.register(b.sink, { intervalMs: b.intervalMs });
    this.feed!.route(b.device, b.property, b.sink.name, b.unit);
    this.fingerprints.set(b.sink.name, fingerprint(b, devices));
    this.built.push(b);
  }

  private routeShared(s: SharedSink, devices: readonly BoundInput[]): void {
    for (const d of devices) {
      if (!d.model) continue;
      for (const p of s.select(d.instance, d.model)) this.feed!.route(d.instance.id, p.name, s.sink.name, p.unit);
    }
  }
}

/** What a sink is built from: its property's manifest entry (pushMethod, reportCycle) and unit. */
function fingerprint(b: BuiltSink, devices: readonly BoundInput[]): string {
  const device = devices.find((d) => d.instance.id === b.device);
  const property = device?.instance.properties.find((p) => p.name === b.property);
  return JSON.stringify([property ?? null, b.unit ?? null, b.intervalMs]);
}
