// edgetwin's own metrics by remote write: every `intervalMs`, a snapshot of the registry behind
// /metrics is written as samples at the snapshot's time, so a node nobody scrapes still shows its
// health in long-term storage. Not through the outbox: a snapshot is superseded by the next one
// and counters are cumulative, so a snapshot that fails is dropped (counted, logged once per
// outage) and nothing is lost but resolution; queueing them would only spend the outbox's bound
// on stale copies. Device values go through the outbox (RemoteWriteSink), never here.

import type { Logger } from 'pino';
import { isEdgetwinError } from '../../errors.js';
import type { RemoteWriteClient } from './client.js';
import { compressBody, encodeWriteRequest } from './encode.js';
import { registrySeries, type RegistryMetric } from './registry-series.js';

export interface OwnMetricsWriterOptions {
  readonly client: RemoteWriteClient;
  /** The registry's JSON (prom-client `getMetricsAsJSON()`), after its scrape-time values are read. */
  readonly snapshot: () => Promise<readonly RegistryMetric[]>;
  readonly intervalMs: number;
  readonly labels?: Readonly<Record<string, string>>;
  /** Metric names not to write (the device values, which have their own path). */
  readonly skip?: (name: string) => boolean;
  readonly logger: Logger;
  readonly clock?: () => number;
}

export class OwnMetricsWriter {
  private readonly opts: OwnMetricsWriterOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private failing = false;
  private counts = { written: 0, dropped: 0 };

  constructor(opts: OwnMetricsWriterOptions) {
    this.opts = opts;
  }

  start(): void {
    if (this.timer !== undefined || this.abort.signal.aborted) return;
    this.schedule();
  }

  /** Snapshots written and dropped (a failed write is not retried). */
  stats(): { readonly written: number; readonly dropped: number } {
    return { ...this.counts };
  }

  /** Writes one snapshot now; resolves whether or not it was written (a failure is logged). */
  async writeNow(): Promise<void> {
    const now = (this.opts.clock ?? Date.now)();
    try {
      const series = registrySeries(await this.opts.snapshot(), now, this.opts.labels, this.opts.skip);
      if (series.length === 0) return;
      await this.opts.client.post(compressBody(encodeWriteRequest(series)), series.length, this.abort.signal);
      this.counts.written++;
      if (this.failing) this.opts.logger.info('remote write of own metrics works again');
      this.failing = false;
    } catch (err) {
      this.counts.dropped++;
      if (this.abort.signal.aborted) return;
      if (!this.failing) {
        const code = isEdgetwinError(err) ? err.code : undefined;
        this.opts.logger.warn({ err, code }, 'remote write of own metrics failed; snapshots are dropped until it works again (the next one replaces them)');
      }
      this.failing = true;
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.writeNow().finally(() => {
        this.running = undefined;
        if (!this.abort.signal.aborted) this.schedule();
      });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and aborts a write in flight; idempotent. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
