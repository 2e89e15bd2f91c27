// Prometheus remote write as a telemetry Sink (telemetry/sink.ts): each batch of device values the
// outbox hands over becomes one WriteRequest of `edgetwin_device_property_value` samples, at the
// twin's timestamps. Queueing, order across batches, retries with backoff and the restart-safe
// backlog are the outbox's (telemetry/outbox/); this only encodes, POSTs and says whether a
// failure is worth retrying (EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE) or not (…_REFUSED).
//
// At least once meets a receiver that refuses repeats. Prometheus 2.42 appends a request in one
// transaction and refuses all of it (400 "out of order sample") when one sample is older than its
// series' newest (storage/remote/write_handler.go): so a batch delivered again after its answer
// was lost, or after a restart, would be refused whole, the new values in it with the old. Two
// answers: samples at or before what this sink has written for their series are not sent again
// (in memory, per series); and a refused request of several samples is sent again one sample per
// request, in order, so what is new gets in and only what the receiver refuses is left out.

import type { Sink, SinkRecord } from '../sink.js';
import { isEdgetwinError } from '../../errors.js';
import { RemoteWriteClient, type RemoteWriteClientOptions, type RemoteWriteStats } from './client.js';
import { compressBody, deviceSeries, encodeWriteRequest, type SeriesInput } from './encode.js';

export interface RemoteWriteSinkOptions extends RemoteWriteClientOptions {
  /** The sink's stable name (the outbox keys its backlog by it); default `remote-write`. */
  readonly name?: string;
  /** Added to every series, e.g. `{ node: 'edge-1' }` (Prometheus's `external_labels`). */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface RemoteWriteSinkStats extends RemoteWriteStats {
  /** Samples left out because the receiver refused them one by one (too old, out of order). */
  readonly samplesRefused: number;
  /** Samples not sent again because this sink had written them (or newer) for their series. */
  readonly samplesRepeated: number;
}

const seriesKey = (labels: Readonly<Record<string, string>>): string => `${labels.device ?? ''}\u0000${labels.property ?? ''}\u0000${labels.unit ?? ''}`;

export class RemoteWriteSink implements Sink {
  readonly name: string;
  readonly client: RemoteWriteClient;
  private readonly labels: Readonly<Record<string, string>>;
  /** Per series, the newest timestamp the receiver has accepted from this sink. */
  private readonly written = new Map<string, number>();
  private refused = 0;
  private repeated = 0;

  /** Throws EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS when the configured credentials cannot be read. */
  constructor(opts: RemoteWriteSinkOptions) {
    this.name = opts.name ?? 'remote-write';
    this.labels = opts.labels ?? {};
    this.client = new RemoteWriteClient(opts);
  }

  /** Writes the batch's numeric and boolean values (others are not samples and are skipped). */
  async deliver(batch: readonly SinkRecord[], signal: AbortSignal): Promise<void> {
    const series = this.unwritten(deviceSeries(batch, this.labels));
    const samples = count(series);
    if (samples === 0) return;
    try {
      await this.client.post(compressBody(encodeWriteRequest(series)), samples, signal);
    } catch (err) {
      if (samples === 1 || !isEdgetwinError(err, 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED')) throw err;
      await this.oneByOne(series, err, signal);
      return;
    }
    for (const s of series) this.mark(s, s.samples[s.samples.length - 1]![0]);
  }

  stats(): RemoteWriteSinkStats {
    return { ...this.client.stats(), samplesRefused: this.refused, samplesRepeated: this.repeated };
  }

  /** Nothing to release: fetch's pooled connections close themselves when idle. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The series without the samples already written (deviceSeries gives them in time order). */
  private unwritten(series: SeriesInput[]): SeriesInput[] {
    const out: SeriesInput[] = [];
    for (const s of series) {
      const after = this.written.get(seriesKey(s.labels));
      if (after === undefined) {
        out.push(s);
        continue;
      }
      const samples = s.samples.filter(([t]) => t > after);
      this.repeated += s.samples.length - samples.length;
      if (samples.length > 0) out.push({ labels: s.labels, samples });
    }
    return out;
  }

  /**
   * After a refusal of the whole request: each sample alone, in time order. A sample refused
   * alone is left out; a receiver that is down stops it (the outbox retries the batch, and what
   * was written here is then skipped). Rejects with the first refusal when nothing got in.
   */
  private async oneByOne(series: readonly SeriesInput[], first: unknown, signal: AbortSignal): Promise<void> {
    let accepted = 0;
    for (const s of series) {
      for (const sample of [...s.samples].sort((a, b) => a[0] - b[0])) {
        const one = { labels: s.labels, samples: [sample] };
        try {
          await this.client.post(compressBody(encodeWriteRequest([one])), 1, signal);
          accepted++;
          this.mark(s, sample[0]);
        } catch (err) {
          if (!isEdgetwinError(err, 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED')) throw err;
          this.refused++;
        }
      }
    }
    if (accepted === 0) throw first;
  }

  private mark(s: SeriesInput, timestamp: number): void {
    const key = seriesKey(s.labels);
    if ((this.written.get(key) ?? -Infinity) < timestamp) this.written.set(key, timestamp);
  }
}

function count(series: readonly SeriesInput[]): number {
  let n = 0;
  for (const s of series) n += s.samples.length;
  return n;
}
