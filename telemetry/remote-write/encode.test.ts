import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import type { SinkRecord } from '../sink.js';
import { compressBody, deviceSeries, encodeWriteRequest } from './encode.js';
import { registrySeries } from './registry-series.js';

// The spec's messages (https://prometheus.io/docs/specs/remote_write_spec), decoded by protobufjs's
// reflection: an independent reading of what encode.ts writes by hand.
const root = protobuf.parse(`
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`).root;
const WriteRequest = root.lookupType('prometheus.WriteRequest');

interface Decoded {
  timeseries: Array<{ labels: Array<{ name: string; value: string }>; samples: Array<{ value: number; timestamp: number }> }>;
}

function decode(bytes: Uint8Array): Decoded {
  return WriteRequest.toObject(WriteRequest.decode(bytes), { longs: Number, defaults: true }) as Decoded;
}

const rec = (property: string, value: SinkRecord['value'], timestamp: number, unit?: string): SinkRecord => ({
  key: `default/thermo/${property}/${timestamp}`,
  device: 'default/thermo',
  property,
  value,
  timestamp,
  ...(unit !== undefined ? { unit } : {}),
});

describe('remote-write encoding', () => {
  it('writes WriteRequest/TimeSeries/Label/Sample with the field numbers of the spec, labels sorted, samples in time order', () => {
    const bytes = encodeWriteRequest([{ labels: { zzz: 'last', __name__: 'm', device: 'd', empty: '' }, samples: [[2000, 2], [1000, 1.5]] }]);
    const got = decode(bytes);
    expect(got.timeseries).toEqual([
      {
        labels: [
          { name: '__name__', value: 'm' },
          { name: 'device', value: 'd' },
          { name: 'zzz', value: 'last' },
        ],
        samples: [
          { value: 1.5, timestamp: 1000 },
          { value: 2, timestamp: 2000 },
        ],
      },
    ]);
    // Timestamps of today need more than 32 bits: int64 varints, not truncated.
    const now = 1_764_640_000_123;
    expect(decode(encodeWriteRequest([{ labels: { __name__: 'm' }, samples: [[now, -0.25]] }])).timeseries[0]?.samples).toEqual([{ value: -0.25, timestamp: now }]);
  });

  it('compresses with the snappy block format (what Prometheus reads), which decompresses to the same bytes', () => {
    const proto = encodeWriteRequest([{ labels: { __name__: 'm' }, samples: [[1, 1]] }]);
    const body = compressBody(proto);
    expect(Buffer.from(snappy.uncompress(body))).toEqual(Buffer.from(proto));
    // The framed format would start with its stream identifier chunk (0xff 0x06 0x00 0x00 "sNaPpY").
    expect(body[0]).not.toBe(0xff);
  });

  it('turns device values into one series per device, property and unit: numbers, booleans as 1/0, strings skipped', () => {
    const series = deviceSeries([rec('temperature', 21.5, 1000, 'Celsius'), rec('power', true, 1000), rec('mode', 'heat', 1000), rec('temperature', 21.7, 2000, 'Celsius'), rec('power', false, 3000)], { node: 'edge-1' });
    expect(series).toEqual([
      { labels: { node: 'edge-1', __name__: 'edgetwin_device_property_value', device: 'default/thermo', property: 'temperature', unit: 'Celsius' }, samples: [[1000, 21.5], [2000, 21.7]] },
      { labels: { node: 'edge-1', __name__: 'edgetwin_device_property_value', device: 'default/thermo', property: 'power', unit: '' }, samples: [[1000, 1], [3000, 0]] },
    ]);
    // The empty unit is not sent (the spec: no empty label values).
    expect(decode(encodeWriteRequest(series)).timeseries[1]?.labels.map((l) => l.name)).toEqual(['__name__', 'device', 'node', 'property']);
  });

  it('keeps the later of two values of a series in one millisecond (Prometheus refuses a request with a duplicate timestamp)', () => {
    const series = deviceSeries([rec('temperature', 1, 1000), rec('temperature', 2, 1000), rec('temperature', 3, 999)]);
    const samples = decode(encodeWriteRequest(series)).timeseries[0]?.samples;
    expect(samples).toEqual([
      { value: 3, timestamp: 999 },
      { value: 2, timestamp: 1000 },
    ]);
  });

  it('writes nothing for a batch without numeric values', () => {
    expect(deviceSeries([rec('mode', 'heat', 1)])).toEqual([]);
    expect(encodeWriteRequest([]).byteLength).toBe(0);
  });

  it('snapshots a registry: histogram parts by their metricName, +Inf bound, NaN left out, skipped names left out', () => {
    const series = registrySeries(
      [
        { name: 'edgetwin_store_commit_duration_seconds', values: [{ value: 3, labels: { le: 0.001 }, metricName: 'edgetwin_store_commit_duration_seconds_bucket' }, { value: 4, labels: { le: Infinity }, metricName: 'edgetwin_store_commit_duration_seconds_bucket' }] },
        { name: 'edgetwin_mqtt_clients', values: [{ value: 2, labels: {} }] },
        { name: 'nan_summary', values: [{ value: NaN, labels: { quantile: 0.5 } }] },
        { name: 'edgetwin_device_property_value', values: [{ value: 1, labels: { device: 'd' } }] },
      ],
      5000,
      { node: 'n' },
      (name) => name.startsWith('edgetwin_device_property_'),
    );
    expect(series).toEqual([
      { labels: { node: 'n', le: '0.001', __name__: 'edgetwin_store_commit_duration_seconds_bucket' }, samples: [[5000, 3]] },
      { labels: { node: 'n', le: '+Inf', __name__: 'edgetwin_store_commit_duration_seconds_bucket' }, samples: [[5000, 4]] },
      { labels: { node: 'n', __name__: 'edgetwin_mqtt_clients' }, samples: [[5000, 2]] },
    ]);
  });
});
