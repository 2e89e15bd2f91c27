// The body of a Prometheus remote-write 1.0 request (https://prometheus.io/docs/specs/remote_write_spec):
// a protobuf `prometheus.WriteRequest`, compressed with snappy's block format (not the framed
// one). Written field by field with protobufjs's Writer, from these messages of the spec:
//
//   message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; reserved 3; }
//   message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//   message Label        { string name = 1; string value = 2; }
//   message Sample       { double value = 1; int64 timestamp = 2; }
//
// The spec's rules this file keeps: label names sorted (byte order), no empty label values, no
// duplicate names; a series' samples in timestamp order; timestamps int64 ms; values float64.

import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import type { SinkRecord } from '../sink.js';

/** One series to write: its labels (`__name__` among them) and samples, in any order. */
export interface SeriesInput {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: ReadonlyArray<readonly [timestamp: number, value: number]>;
}

/** The metric a device value is written as; the same name /metrics exposes (telemetry/prometheus/). */
export const DEVICE_VALUE_METRIC = 'edgetwin_device_property_value';

// Wire tags: (field << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
const TAG_TIMESERIES = (1 << 3) | 2;
const TAG_LABELS = (1 << 3) | 2;
const TAG_SAMPLES = (2 << 3) | 2;
const TAG_NAME = (1 << 3) | 2;
const TAG_VALUE_STRING = (2 << 3) | 2;
const TAG_VALUE_DOUBLE = (1 << 3) | 1;
const TAG_TIMESTAMP = (2 << 3) | 0;

/** Byte order of UTF-8, which for these strings is UTF-16 code-unit order except past the BMP; names are ASCII. */
const byName = (a: readonly [string, string], b: readonly [string, string]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** The WriteRequest protobuf (uncompressed). Labels with an empty value are left out (the spec: it MUST NOT send them). */
export function encodeWriteRequest(series: Iterable<SeriesInput>): Uint8Array {
  const w = protobuf.Writer.create();
  for (const s of series) {
    if (s.samples.length === 0) continue;
    w.uint32(TAG_TIMESERIES).fork();
    const labels = Object.entries(s.labels).filter(([, v]) => v !== '');
    labels.sort(byName);
    for (const [name, value] of labels) {
      w.uint32(TAG_LABELS).fork().uint32(TAG_NAME).string(name).uint32(TAG_VALUE_STRING).string(value).ldelim();
    }
    const samples = isSorted(s.samples) ? s.samples : [...s.samples].sort((a, b) => a[0] - b[0]);
    for (const [timestamp, value] of samples) {
      w.uint32(TAG_SAMPLES).fork().uint32(TAG_VALUE_DOUBLE).double(value).uint32(TAG_TIMESTAMP).int64(timestamp).ldelim();
    }
    w.ldelim();
  }
  return w.finish();
}

function isSorted(samples: SeriesInput['samples']): boolean {
  for (let i = 1; i < samples.length; i++) if (samples[i]![0] < samples[i - 1]![0]) return false;
  return true;
}

/** Snappy block format, as the spec requires (`Content-Encoding: snappy`). */
export function compressBody(proto: Uint8Array): Uint8Array {
  return snappy.compress(proto);
}

/** A device value as a sample: numbers as they are, booleans 1/0; strings (and NaN text) are not samples. */
export function sampleValue(value: SinkRecord['value']): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

/**
 * The series of a batch of device values: one per (device, property, unit), each sample at the
 * twin's timestamp. Values that are not numbers or booleans are skipped (a sample is a float64).
 * Two values of one series in the same millisecond keep the later one: Prometheus refuses a
 * whole request holding a second, different value at a timestamp it has (400, "duplicate sample").
 */
export function deviceSeries(batch: readonly SinkRecord[], extraLabels: Readonly<Record<string, string>> = {}): SeriesInput[] {
  const bySeries = new Map<string, { labels: Record<string, string>; samples: Map<number, number> }>();
  for (const r of batch) {
    const value = sampleValue(r.value);
    if (value === undefined) continue;
    const unit = r.unit ?? '';
    const key = `${r.device}\u0000${r.property}\u0000${unit}`;
    let s = bySeries.get(key);
    if (s === undefined) {
      s = { labels: { ...extraLabels, __name__: DEVICE_VALUE_METRIC, device: r.device, property: r.property, unit }, samples: new Map() };
      bySeries.set(key, s);
    }
    // Delete first so a repeated timestamp moves to the end: Map order is then arrival order.
    s.samples.delete(r.timestamp);
    s.samples.set(r.timestamp, value);
  }
  return [...bySeries.values()].map((s) => ({ labels: s.labels, samples: [...s.samples] }));
}
