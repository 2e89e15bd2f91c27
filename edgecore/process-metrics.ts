// prom-client's default metrics (resident memory, heap, CPU, event-loop lag, GC), once per
// process. They describe the process, not an EdgeCore, and prom-client starts a GC observer
// and an event-loop-delay monitor for each registry it is given and never stops them: one set
// per process keeps that bounded however many EdgeCores a process (a test run) creates.
//
// One change to them. prom-client 15 (lib/metrics/eventLoopLag.js) reads its event-loop
// histogram and resets it at every scrape, so a scrape that comes before the histogram's
// first sample (within 10 ms of the previous scrape, or the first scrape of a process) reports
// what an empty node:perf_hooks histogram holds: min 9223372036.854776 s (int64 max in ns),
// mean and stddev NaN, written `Nan` (lib/util.js) where the exposition format spells `NaN`.
// Its seven summary gauges are replaced by ones that keep the last window's values until a
// new sample arrives; nodejs_eventloop_lag_seconds (a setImmediate round trip) stays its own.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

let processMetrics: Registry | undefined;

export function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
    replaceEventLoopStats(processMetrics);
  }
  return processMetrics;
}

type Stat = readonly [name: string, help: string, read: (h: IntervalHistogram) => number];

const STATS: readonly Stat[] = [
  ['min', 'The minimum recorded event loop delay.', (h) => h.min],
  ['max', 'The maximum recorded event loop delay.', (h) => h.max],
  ['mean', 'The mean of the recorded event loop delays.', (h) => h.mean],
  ['stddev', 'The standard deviation of the recorded event loop delays.', (h) => h.stddev],
  ['p50', 'The 50th percentile of the recorded event loop delays.', (h) => h.percentile(50)],
  ['p90', 'The 90th percentile of the recorded event loop delays.', (h) => h.percentile(90)],
  ['p99', 'The 99th percentile of the recorded event loop delays.', (h) => h.percentile(99)],
];

function replaceEventLoopStats(registry: Registry): void {
  // Same resolution as prom-client's (eventLoopMonitoringPrecision, 10 ms); lives as long as
  // the process, like the registry.
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const gauges: Gauge[] = [];
  for (const [stat, help] of STATS) {
    const name = `nodejs_eventloop_lag_${stat}_seconds`;
    registry.removeSingleMetric(name);
    // Until the first sample every gauge reads 0 (prom-client's value for a gauge never set).
    // The first gauge's collect sets all seven: a registry collects its metrics in the order
    // they were registered, as prom-client's own lag gauge relies on.
    gauges.push(new Gauge({ name, help, registers: [registry], ...(gauges.length === 0 ? { collect: () => refresh() } : {}) }));
  }
  const refresh = (): void => {
    if (histogram.count === 0) return;
    STATS.forEach(([, , read], i) => gauges[i]?.set(read(histogram) / 1e9));
    histogram.reset();
  };
}
