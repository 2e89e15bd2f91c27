// Device property values as Prometheus metrics on /metrics: `edgetwin_device_property_value`
// {device, property, unit} for each numeric or boolean property a device is opted in for (policy.ts),
// and the time its current value was stored. Read from the twins when Prometheus scrapes (as
// edgecore/metrics.ts reads everything that is not a hot-path counter), so the twin's update
// path does no work for them. The number of series is capped: past `maxSeries` a new series is
// not exported, the first refusal is logged with a code, and series already exported keep
// their place (a newly bound device never pushes out one a dashboard shows).

import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { edgetwinError } from '../../errors.js';
import type { DeviceEntry } from '../../devicetwin/index.js';
import type { PropertyModel } from '../../schemas/index.js';
import { selectedProperties, type DeviceValuesPolicy } from './policy.js';

/** Where values are read at scrape time: the twin's public list of bound devices (undefined while it is down). */
export interface DeviceValuesSource {
  list(): Iterable<Pick<DeviceEntry, 'instance' | 'model' | 'state'>>;
}

export interface DeviceValueCollectorOptions {
  readonly policy: DeviceValuesPolicy;
  readonly twin: () => DeviceValuesSource | undefined;
  /** The registry behind /metrics (EdgeMetrics.registry); the gauges are added to it. */
  readonly registry: Registry;
  readonly logger: Logger;
}

export const DEVICE_VALUE_METRICS = {
  value: 'edgetwin_device_property_value',
  reportedAt: 'edgetwin_device_property_last_report_timestamp_seconds',
  series: 'edgetwin_device_property_series',
  refused: 'edgetwin_device_property_series_refused',
} as const;

interface Selected {
  readonly name: string;
  readonly unit: string;
}

/** The numeric value of a reported wire string: numbers as written (`int`, `float`, `double`), booleans 1/0. */
export function numericValue(type: PropertyModel['type'], wire: string): number | undefined {
  if (type === 'boolean') return wire === 'true' ? 1 : wire === 'false' ? 0 : undefined;
  if (type !== 'int' && type !== 'float' && type !== 'double') return undefined;
  const n = Number(wire);
  return wire.trim() === '' || !Number.isFinite(n) ? undefined : n;
}

export class DeviceValueCollector {
  private readonly opts: DeviceValueCollectorOptions;
  /** Series exported, by device NUL property: they keep their place under the cap. */
  private readonly admitted = new Set<string>();
  /** Per device, the properties it exports, recomputed when its instance or model object changes (a reload). */
  private readonly selections = new Map<string, { instance: DeviceEntry['instance']; model: DeviceEntry['model']; props: readonly Selected[] }>();
  private warned = false;
  private refusedLast = 0;
  private readonly gauges: { value: Gauge<'device' | 'property' | 'unit'>; reportedAt: Gauge<'device' | 'property'>; series: Gauge; refused: Gauge };

  constructor(opts: DeviceValueCollectorOptions) {
    this.opts = opts;
    const registers = [opts.registry];
    // The first gauge's collect fills all four: a registry collects in registration order.
    this.gauges = {
      value: new Gauge({
        name: DEVICE_VALUE_METRICS.value,
        help: 'Reported value of a device property (numbers as they are, booleans 1/0), for properties opted in by telemetry.prometheus or reportToCloud',
        labelNames: ['device', 'property', 'unit'],
        registers,
        collect: () => this.collect(),
      }),
      reportedAt: new Gauge({
        name: DEVICE_VALUE_METRICS.reportedAt,
        help: 'When the twin stored the current reported value (seconds since the epoch); a report repeating the same value is not stored and does not move it',
        labelNames: ['device', 'property'],
        registers,
      }),
      series: new Gauge({ name: DEVICE_VALUE_METRICS.series, help: 'Device property series exported as edgetwin_device_property_value', registers }),
      refused: new Gauge({ name: DEVICE_VALUE_METRICS.refused, help: 'Device property series not exported because telemetry.prometheus.maxSeries was reached', registers }),
    };
  }

  /** Series exported and refused at the last scrape. */
  stats(): { readonly series: number; readonly refused: number } {
    return { series: this.admitted.size, refused: this.refusedLast };
  }

  /** Reads every opted-in value into the gauges (prom-client calls it at each scrape). */
  collect(): void {
    const { value, reportedAt, series, refused } = this.gauges;
    value.reset();
    reportedAt.reset();
    const { policy } = this.opts;
    const twin = policy.enabled ? this.opts.twin() : undefined;
    const seen = new Set<string>();
    const devices = new Set<string>();
    let refusedNow = 0;
    for (const entry of twin?.list() ?? []) {
      const id = entry.state.id;
      devices.add(id);
      for (const p of this.selected(entry)) {
        const t = entry.state.twins[p.name];
        if (t === undefined || t.type === 'deleted' || t.actual === undefined) continue;
        const type = entry.model.properties.get(p.name)?.type;
        const v = type === undefined ? undefined : numericValue(type, t.actual.value);
        if (v === undefined) continue;
        const key = `${id}\u0000${p.name}`;
        if (!this.admitted.has(key)) {
          if (this.admitted.size >= policy.maxSeries) {
            refusedNow++;
            continue;
          }
          this.admitted.add(key);
        }
        seen.add(key);
        value.set({ device: id, property: p.name, unit: p.unit }, v);
        reportedAt.set({ device: id, property: p.name }, t.actual.timestamp / 1000);
      }
    }
    // A series whose device left, or whose value went, frees its place for the next scrape.
    for (const key of this.admitted) if (!seen.has(key)) this.admitted.delete(key);
    for (const id of this.selections.keys()) if (!devices.has(id)) this.selections.delete(id);
    this.refusedLast = refusedNow;
    series.set(this.admitted.size);
    refused.set(refusedNow);
    if (refusedNow > 0 && !this.warned) {
      this.warned = true;
      const err = edgetwinError(
        'EDGETWIN_ERR_METRICS_SERIES_LIMIT',
        `device values reached telemetry.prometheus.maxSeries (${policy.maxSeries}): ${refusedNow} more series are not exported (edgetwin_device_property_series_refused counts them); raise the limit or opt fewer devices in`,
      );
      this.opts.logger.warn({ code: err.code, maxSeries: policy.maxSeries, refused: refusedNow }, err.message);
    }
  }

  private selected(entry: Pick<DeviceEntry, 'instance' | 'model' | 'state'>): readonly Selected[] {
    const id = entry.state.id;
    const cached = this.selections.get(id);
    if (cached !== undefined && cached.instance === entry.instance && cached.model === entry.model) return cached.props;
    const props = selectedProperties(this.opts.policy, entry.instance, entry.model);
    this.selections.set(id, { instance: entry.instance, model: entry.model, props });
    return props;
  }
}
