// edgetwin's own metrics as remote-write series: a snapshot of a prom-client registry
// (`Registry.getMetricsAsJSON()`), every value a sample at the snapshot's time. Histograms and
// summaries arrive from prom-client already split into their `_bucket`/`_sum`/`_count` (or
// quantile) values, each with its `metricName`, so they become the series a scrape would give.

import type { SeriesInput } from './encode.js';

/** The part of prom-client's `MetricObjectWithValues` this reads (structural: any registry's JSON fits). */
export interface RegistryMetric {
  readonly name: string;
  readonly values: ReadonlyArray<{
    readonly value: number;
    readonly labels: Readonly<Record<string, string | number | undefined>>;
    readonly metricName?: string;
  }>;
}

/** prom-client's text for a bucket bound: `+Inf`, else the number as JavaScript writes it (as its exposition does). */
function labelText(v: string | number): string {
  if (typeof v === 'string') return v;
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * The samples of a registry snapshot at `timestamp`. `skip` leaves out metrics by name (device
 * values travel as their own records; a second copy at the snapshot's time would put a sample
 * newer than queued values into their series, and Prometheus then refuses those as out of order).
 * NaN values (a summary with no observation) are left out: they are not values.
 */
export function registrySeries(metrics: readonly RegistryMetric[], timestamp: number, extraLabels: Readonly<Record<string, string>> = {}, skip: (name: string) => boolean = () => false): SeriesInput[] {
  const out: SeriesInput[] = [];
  for (const metric of metrics) {
    if (skip(metric.name)) continue;
    for (const v of metric.values) {
      if (Number.isNaN(v.value)) continue;
      const labels: Record<string, string> = { ...extraLabels };
      for (const [name, value] of Object.entries(v.labels)) if (value !== undefined) labels[name] = labelText(value);
      labels.__name__ = v.metricName ?? metric.name;
      out.push({ labels, samples: [[timestamp, v.value]] });
    }
  }
  return out;
}
