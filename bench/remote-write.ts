// (rw) Prometheus remote write: the cost per device value of the remote-write sink
// (telemetry/remote-write/), by batch size. "encode" is what the node's CPU pays per batch
// (grouping into series, protobuf, snappy); "deliver" is RemoteWriteSink.deliver() to a real
// Prometheus 2.42 on loopback (encode + HTTP + Prometheus's append), the figure an outbox sees.
// The one-value batch shows the fixed cost of a request. Without Debian's prometheus the
// deliver rows are left out.

import type { SinkRecord } from '../telemetry/index.js';
import { RemoteWriteSink, compressBody, deviceSeries, encodeWriteRequest } from '../telemetry/index.js';
import { fmt, median, printTable, type ResultRow } from './lib.js';
import { noProgress, type FigureSink } from './progress.js';
import { hasPrometheus, startPrometheus } from './prometheus.js';

export interface RemoteWriteBenchOptions {
  /** Values per batch. */
  readonly sizes: readonly number[];
  readonly runs: number;
  /** The progress line's latest figure. */
  readonly figure?: FigureSink;
}

const DEVICES = 10;
const PROPERTIES = 10;

/** `n` values over 100 series (10 devices × 10 properties), timestamps from `t0` on, 1 ms apart per series. */
function batch(n: number, t0: number): SinkRecord[] {
  const out: SinkRecord[] = [];
  for (let i = 0; i < n; i++) {
    const device = `plant/meter-${i % DEVICES}`;
    const property = `p${Math.floor(i / DEVICES) % PROPERTIES}`;
    const timestamp = t0 + Math.floor(i / (DEVICES * PROPERTIES));
    out.push({ key: `${device}/${property}/${timestamp}`, device, property, value: 20 + ((i * 7) % 100) / 10, unit: 'W', timestamp });
  }
  return out;
}

export async function benchRemoteWrite(o: RemoteWriteBenchOptions): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const labels = { node: 'bench' };
  // Timestamps must be recent (Prometheus takes samples within its head block) and rise per series.
  let t = Date.now() - 30 * 60_000;
  // Warm the JIT on every size first: a cold first batch costs tens of ms and is not the steady state.
  for (const size of o.sizes) for (let i = 0; i < 3; i++) compressBody(encodeWriteRequest(deviceSeries(batch(size, t), labels)));
  for (const size of o.sizes) {
    const us: number[] = [];
    let bytes = 0;
    for (let r = 0; r < o.runs; r++) {
      // Each run repeats the batch for at least 20 ms, so a small batch is not a timer's resolution.
      const b = batch(size, t);
      let n = 0;
      const t0 = performance.now();
      do {
        bytes = compressBody(encodeWriteRequest(deviceSeries(b, labels))).byteLength;
        n++;
      } while (performance.now() - t0 < 20);
      us.push(((performance.now() - t0) * 1000) / (n * size));
    }
    (o.figure ?? noProgress)(`encode, ${fmt(size)} values`, `${fmt(median(us), 2)} µs per value`);
    rows.push({ step: 'encode', values: size, usPerValue: median(us), bytesPerValue: bytes / size, valuesPerSecond: 1e6 / median(us) });
  }
  if (hasPrometheus()) {
    const prom = await startPrometheus();
    try {
      const sink = new RemoteWriteSink({ url: prom.writeUrl, timeoutMs: 30_000, labels });
      const never = new AbortController().signal;
      for (const size of [1, ...o.sizes]) {
        const us: number[] = [];
        for (let r = 0; r < o.runs + 1; r++) {
          const b = batch(size, t);
          t += Math.ceil(size / (DEVICES * PROPERTIES)) + 1;
          const t0 = performance.now();
          await sink.deliver(b, never);
          const dt = performance.now() - t0;
          if (r > 0) us.push((dt * 1000) / size);
        }
        (o.figure ?? noProgress)(`deliver, ${fmt(size)} values`, `${fmt(median(us), 2)} µs per value`);
        rows.push({ step: 'deliver', values: size, usPerValue: median(us), bytesPerValue: 0, valuesPerSecond: 1e6 / median(us) });
      }
      // What was written is there (a benchmark that measured refused writes would be meaningless).
      const stored = await prom.query('count(edgetwin_device_property_value{node="bench"})', t / 1000);
      if (stored[0]?.value[1] !== String(DEVICES * PROPERTIES)) throw new Error(`expected ${DEVICES * PROPERTIES} series in Prometheus, got ${JSON.stringify(stored)}`);
      if (sink.stats().refusals > 0) throw new Error('Prometheus refused a benchmark batch');
    } finally {
      await prom.stop();
    }
  } else {
    console.log('\n(rw) /usr/bin/prometheus not installed (Debian package prometheus): deliver rows skipped');
  }
  printTable(
    '(rw) Remote write: cost per device value (median of runs; 100 series: 10 devices × 10 properties)',
    ['step', 'values per batch', 'µs per value', 'values/s', 'bytes per value (snappy)'],
    rows.map((r) => [String(r.step), fmt(Number(r.values)), fmt(Number(r.usPerValue), 2), fmt(Number(r.valuesPerSecond)), r.step === 'encode' ? fmt(Number(r.bytesPerValue), 1) : '']),
  );
  return rows;
}
