// (b) Latency at a fixed rate: mappers publish `twin/update` at QoS 1 (durable) at `rate`
// messages/s in total, and an app measures, per message, the time from the publish call to
// its `update/result` and to its `update/document`. Baseline in the same run: raw aedes, the
// same payloads published at the same rate to a plain topic, publish → delivery. The first
// `warmupSeconds` at the rate are sent but not counted: they measure V8 compiling the hot path
// (a 50–250 ms stall in the first second), not the steady state.

import { EmbeddedBroker } from '../eventbus/index.js';
import { silentLogger } from '../edgecore/index.js';
import { connectClient, fmt, median, percentile, printTable, startBenchEdge, type ResultRow } from './lib.js';
import { noProgress, type FigureSink } from './progress.js';

export interface LatencyOptions {
  /** Told each figure as it is measured (bench/progress.ts). */
  readonly figure?: FigureSink;
  /** Messages per second, all publishers together. */
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly publishers: number;
  readonly runs: number;
}

interface Samples {
  result: number[];
  document: number[];
}

/**
 * Sends at `rate` for `seconds` (every 1 ms tick sends what is due, so a late tick catches up
 * rather than lowering the rate) and records each message's latency on the receiver's topics.
 */
async function run(url: string, topic: (i: number) => string, filters: Partial<Record<keyof Samples, string>>, opts: LatencyOptions): Promise<Samples> {
  const receiver = await connectClient(url, `lat-recv-${process.hrtime.bigint()}`);
  await receiver.subscribeAsync(Object.values(filters), { qos: 0 });
  const pubs = await Promise.all(Array.from({ length: opts.publishers }, (_, i) => connectClient(url, `lat-pub-${i}-${process.hrtime.bigint()}`)));
  const warmup = Math.round(opts.rate * opts.warmupSeconds);
  const total = warmup + Math.round(opts.rate * opts.seconds);
  const sentAt = new Float64Array(total);
  const samples: Samples = { result: [], document: [] };
  const expected = Object.keys(filters).length * total;
  let received = 0;
  const done = new Promise<void>((resolve) => {
    receiver.on('message', (t, payload) => {
      const now = performance.now();
      const seq = Number((JSON.parse(payload.toString()) as { event_id?: string }).event_id);
      const kind: keyof Samples = t.endsWith('/document') ? 'document' : 'result';
      if (seq >= warmup) samples[kind].push(now - (sentAt[seq] ?? now));
      if (++received === expected) resolve();
    });
  });
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * opts.rate));
      for (; sent < due; sent++) {
        const i = sent % opts.publishers;
        sentAt[sent] = performance.now();
        pubs[i]!.publish(topic(i), JSON.stringify({ event_id: String(sent), timestamp: Date.now(), twin: { temperature: { actual: { value: (20 + (sent % 100) / 10).toFixed(1) }, metadata: { type: 'float' } } } }), { qos: 1 });
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const timeout = new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`only ${received} of ${expected} answers arrived`)), 30_000).unref());
  await Promise.race([done, timeout]);
  await Promise.all([...pubs, receiver].map((c) => c.endAsync()));
  return samples;
}

export interface LatencyRow extends ResultRow {
  readonly path: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export async function benchLatency(opts: LatencyOptions): Promise<LatencyRow[]> {
  const raw: number[][] = [];
  const result: number[][] = [];
  const document: number[][] = [];
  for (let r = 0; r < opts.runs; r++) {
    const broker = new EmbeddedBroker({ port: 0, logger: silentLogger() });
    await broker.start();
    raw.push((await run(broker.url, (i) => `bench/raw/${i}`, { result: 'bench/raw/+' }, opts)).result);
    await broker.close();
    const edge = await startBenchEdge(opts.publishers);
    const s = await run(edge.url, (i) => `$hw/events/device/default/bench-${i}/twin/update`, { result: '$hw/events/device/+/+/twin/update/result', document: '$hw/events/device/+/+/twin/update/document' }, opts);
    result.push(s.result);
    document.push(s.document);
    await edge.stop();
    (opts.figure ?? noProgress)(`latency run ${r + 1}/${opts.runs}`, `publish → update/result p99 ${fmt(percentile(s.result, 99), 2)} ms (raw aedes ${fmt(percentile(raw.at(-1)!, 99), 2)} ms)`);
  }
  // Each run's percentile, then the median over runs: one noisy run cannot set the figure.
  const summary = (label: string, runs: number[][]): LatencyRow => ({
    path: label,
    p50Ms: median(runs.map((xs) => percentile(xs, 50))),
    p99Ms: median(runs.map((xs) => percentile(xs, 99))),
    maxMs: median(runs.map((xs) => Math.max(...xs))),
  });
  const rows = [
    summary('raw aedes: publish → delivery (baseline)', raw),
    summary('edgetwin: publish → update/result (committed)', result),
    summary('edgetwin: publish → update/document', document),
  ];
  printTable(
    `(b) Latency at ${fmt(opts.rate)} twin updates/s, QoS 1 durable, ${opts.publishers} publishers, ${opts.seconds} s after ${opts.warmupSeconds} s of warm-up (median over ${opts.runs} runs of each run's percentile)`,
    ['path', 'p50 ms', 'p99 ms', 'max ms'],
    rows.map((r) => [r.path, fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.maxMs, 1)]),
  );
  return rows;
}
