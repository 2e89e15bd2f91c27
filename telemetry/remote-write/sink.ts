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
// (in memory, per series); and a request of several samples refused with 400 is sent again series
// by series, oldest first, so what is new gets in and only what the receiver refuses is left out.

import type { Sink, SinkRecord } from '../sink.js';
import { isEdgetwinError, type EdgetwinError } from '../../errors.js';
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
      if (samples === 1 || !isEdgetwinError(err, 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED') || statusOf(err) !== 400) throw err;
      await this.salvage(series, err, signal);
      return;
    }
    for (const s of series) this.mark(s, Math.max(...s.samples.map(([t]) => t)));
  }

  stats(): RemoteWriteSinkStats {
    return { ...this.client.stats(), samplesRefused: this.refused, samplesRepeated: this.repeated };
  }

  /** Nothing to release: fetch's pooled connections close themselves when idle. */
  /** A 4xx (EDGETWIN_ERR_REMOTE_WRITE_REFUSED) is never retried: the remote-write 1.0 spec. */
  isPermanent(err: EdgetwinError): boolean {
    return err.code === 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED';
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The series without the samples already written (at or before the newest written for their series). */
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
   * After a 400 for the whole request (Prometheus's answer to a sample out of order or out of
   * bounds; 401, 403, 413 … are not about samples and are passed on as they are): series by
   * series, the oldest samples alone until one is accepted, then the rest in one request. Once a
   * sample is in, every older one would be out of order, so this is the only order that loses
   * nothing the receiver would take; a series refused whole costs one request per sample (at
   * most a batch's worth). A receiver that is down stops it (the outbox retries the batch, and
   * what was written here is then skipped). Rejects with the first refusal when nothing got in.
   */
  private async salvage(series: readonly SeriesInput[], first: unknown, signal: AbortSignal): Promise<void> {
    let accepted = 0;
    const post = async (labels: SeriesInput['labels'], samples: SeriesInput['samples']): Promise<boolean> => {
      try {
        await this.client.post(compressBody(encodeWriteRequest([{ labels, samples }])), samples.length, signal);
        return true;
      } catch (err) {
        if (!isEdgetwinError(err, 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED')) throw err;
        return false;
      }
    };
    for (const s of series) {
      const sorted = [...s.samples].sort((a, b) => a[0] - b[0]);
      let i = 0;
      let inSeries = false; // a sample of this series was accepted: the rest go together
      while (i < sorted.length) {
        const chunk = inSeries ? sorted.slice(i) : [sorted[i]!];
        if (await post(s.labels, chunk)) {
          accepted += chunk.length;
          this.mark(s, chunk[chunk.length - 1]![0]);
          inSeries = true;
          i += chunk.length;
        } else if (inSeries) {
          inSeries = false; // the rest was refused together: one by one from here
        } else {
          this.refused++;
          i++;
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

/** The HTTP status RemoteWriteClient puts in a refusal's details. */
function statusOf(err: EdgetwinError): number | undefined {
  const d = err.details.find((x) => x.path === 'status');
  return d === undefined ? undefined : Number(d.message);
}

function count(series: readonly SeriesInput[]): number {
  let n = 0;
  for (const s of series) n += s.samples.length;
  return n;
}
