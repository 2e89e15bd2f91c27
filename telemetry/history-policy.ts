// The config's `history` section (schemas/config.ts) as the HistoryPolicy the twin and the store
// use: durations and sizes parsed once, overrides as maps. The schema has checked every value.

import { DEFAULT_HISTORY_POLICY, type HistoryOverride, type HistoryPolicy } from '../devicetwin/index.js';
import { parseDuration, parseSize, type EdgetwinConfig } from '../schemas/index.js';

type HistoryConfig = EdgetwinConfig['history'];
type OverrideConfig = NonNullable<HistoryConfig['devices'][string]>;

function duration(value: string | number, fallback: number): number {
  return parseDuration(value) ?? fallback;
}

function size(value: string | number, fallback: number): number {
  return parseSize(value) ?? fallback;
}

function override(o: OverrideConfig): HistoryOverride {
  return {
    ...(o.enabled !== undefined ? { enabled: o.enabled } : {}),
    ...(o.maxAge !== undefined ? { maxAgeMs: duration(o.maxAge, DEFAULT_HISTORY_POLICY.maxAgeMs) } : {}),
    ...(o.maxBytes !== undefined ? { maxBytes: size(o.maxBytes, DEFAULT_HISTORY_POLICY.maxBytes) } : {}),
  };
}

export function historyPolicy(config: HistoryConfig): HistoryPolicy {
  const d = DEFAULT_HISTORY_POLICY;
  return {
    enabled: config.enabled,
    maxAgeMs: duration(config.retention.maxAge, d.maxAgeMs),
    maxBytes: size(config.retention.maxBytes, d.maxBytes),
    minuteBucketsAfterMs: duration(config.downsample.minutesAfter, d.minuteBucketsAfterMs),
    hourBucketsAfterMs: duration(config.downsample.hoursAfter, d.hourBucketsAfterMs),
    maxPoints: config.maxPoints,
    devices: new Map(Object.entries(config.devices).map(([id, o]) => [id, override(o)])),
    models: new Map(Object.entries(config.models).map(([name, o]) => [name, override(o)])),
  };
}
