// The outbox's Prometheus series (docs/observability.md, docs/telemetry.md), read only when
// Prometheus scrapes: the delivery loops bump plain numbers and allocate nothing for metrics.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { SinkStats } from './outbox.js';

/** Registers the outbox series in `registry`; `read` gives the current numbers per sink. */
export function outboxMetrics(registry: Registry, read: () => readonly SinkStats[]): void {
  const labelNames = ['sink'] as const;
  new Gauge({
    name: 'edgetwin_telemetry_outbox_depth',
    help: 'Values waiting in the telemetry outbox for a sink (in memory and on disk).',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of read()) this.set({ sink: s.name }, s.depth);
    },
  });
  new Gauge({
    name: 'edgetwin_telemetry_outbox_bytes',
    help: 'Bytes of the values waiting in the telemetry outbox for a sink.',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of read()) this.set({ sink: s.name }, s.bytes);
    },
  });
  new Counter({
    name: 'edgetwin_telemetry_outbox_dropped_total',
    help: "Values the telemetry outbox dropped for a sink (the oldest, past the sink's maxRecords or maxBytes) since start.",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of read()) this.inc({ sink: s.name }, s.dropped);
    },
  });
  new Counter({
    name: 'edgetwin_telemetry_sink_delivered_total',
    help: 'Values a sink confirmed stored since start (redeliveries after a failed batch count again).',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of read()) this.inc({ sink: s.name }, s.delivered);
    },
  });
  new Counter({
    name: 'edgetwin_telemetry_sink_failures_total',
    help: 'Failed deliveries to a sink since start (each is retried with backoff).',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of read()) this.inc({ sink: s.name }, s.failures);
    },
  });
}
