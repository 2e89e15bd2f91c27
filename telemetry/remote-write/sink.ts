// Prometheus remote write as a telemetry Sink (telemetry/sink.ts): each batch of device values the
// outbox hands over becomes one WriteRequest of `edgetwin_device_property_value` samples, at the
// twin's timestamps. Queueing, order across batches, retries with backoff and the restart-safe
// backlog are the outbox's (telemetry/outbox/); this only encodes, POSTs and says whether a
// failure is worth retrying (EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE) or not (…_REFUSED).

import type { Sink, SinkRecord } from '../sink.js';
import { RemoteWriteClient, type RemoteWriteClientOptions, type RemoteWriteStats } from './client.js';
import { compressBody, deviceSeries, encodeWriteRequest } from './encode.js';

export interface RemoteWriteSinkOptions extends RemoteWriteClientOptions {
  /** The sink's stable name (the outbox keys its backlog by it); default `remote-write`. */
  readonly name?: string;
  /** Added to every series, e.g. `{ node: 'edge-1' }` (Prometheus's `external_labels`). */
  readonly labels?: Readonly<Record<string, string>>;
}

export class RemoteWriteSink implements Sink {
  readonly name: string;
  readonly client: RemoteWriteClient;
  private readonly labels: Readonly<Record<string, string>>;

  /** Throws EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS when the configured credentials cannot be read. */
  constructor(opts: RemoteWriteSinkOptions) {
    this.name = opts.name ?? 'remote-write';
    this.labels = opts.labels ?? {};
    this.client = new RemoteWriteClient(opts);
  }

  /** Writes the batch's numeric and boolean values (others are not samples and are skipped). */
  async deliver(batch: readonly SinkRecord[], signal: AbortSignal): Promise<void> {
    const series = deviceSeries(batch, this.labels);
    if (series.length === 0) return;
    let samples = 0;
    for (const s of series) samples += s.samples.length;
    await this.client.post(compressBody(encodeWriteRequest(series)), samples, signal);
  }

  stats(): RemoteWriteStats {
    return this.client.stats();
  }

  /** Nothing to release: fetch's pooled connections close themselves when idle. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
