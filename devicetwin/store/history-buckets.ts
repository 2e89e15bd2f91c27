// The history's layout constants and its bucket arithmetic, as pure functions: folding entries
// into min/max/sum/last buckets (downsampling, and queries with a step) and merging buckets in
// any order. The tables are in schema.ts (v2); docs/telemetry.md explains the tiers.

import type { HistoryKind } from '../types.js';

/** Rows are partitioned by the hour they fall in: `part` = floor(ms / PART_MS). */
export const PART_MS = 3_600_000;

/** `tier` of history_parts / history_buckets: 0 raw entries, 1 one-minute, 2 one-hour buckets. */
export const RAW = 0;
export const MINUTE = 1;
export const HOUR = 2;
export type Tier = typeof RAW | typeof MINUTE | typeof HOUR;
export const TIER_NAMES = ['raw', 'minute', 'hour'] as const;
/** Width of a tier's buckets in ms (both divide PART_MS, so a bucket never spans two hours). */
export const BUCKET_MS: Readonly<Record<typeof MINUTE | typeof HOUR, number>> = { [MINUTE]: 60_000, [HOUR]: PART_MS };

export const KIND_CODES: Readonly<Record<HistoryKind, number>> = { reported: 0, desired: 1, ack: 2 };

/**
 * Estimated on-disk bytes of one row beyond its value: key, record header, cell pointer and
 * B-tree slack. Measured with SQLite's dbstat (sqlite.org/dbstat.html) over 30–50k rows of 100
 * devices × 5 properties written in arrival order: 27 bytes a raw row, 61 a bucket row and 38 a
 * compact one (min/max/sum NULL: one number, or text), with 8-byte values.
 * history-store.test.ts keeps the estimate within 30 % of the measured size, so `maxBytes`
 * means what it says without measuring the tables on every check.
 */
export const RAW_ROW_BYTES = 20;
export const BUCKET_ROW_BYTES = 54;
export const COMPACT_BUCKET_ROW_BYTES = 30;

/** Bytes a value takes in a row: a REAL is 8; a TEXT its length (UTF-16 units: an estimate). */
export function valueBytes(value: number | string): number {
  return typeof value === 'number' ? 8 : value.length;
}

export function partOf(ts: number): number {
  return Math.floor(ts / PART_MS);
}

/** min/max/sum cover the numeric values only (null when there are none); n counts every value. */
export interface Bucket {
  n: number;
  min: number | null;
  max: number | null;
  sum: number | null;
  last: number | string;
  /** Timestamp (ms) of `last`. */
  lastTs: number;
}

export function pointBucket(ts: number, value: number | string): Bucket {
  const num = typeof value === 'number' ? value : null;
  return { n: 1, min: num, max: num, sum: num, last: value, lastTs: ts };
}

const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));
const sumOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : a + b);

/**
 * Folds `add` into `into` (mutated) and returns it. Commutative except for ties: the last value
 * is the one with the latest timestamp, and of two with the same timestamp the one folded later.
 */
export function mergeInto(into: Bucket, add: Bucket): Bucket {
  into.n += add.n;
  into.min = minOf(into.min, add.min);
  into.max = maxOf(into.max, add.max);
  into.sum = sumOf(into.sum, add.sum);
  if (add.lastTs >= into.lastTs) {
    into.last = add.last;
    into.lastTs = add.lastTs;
  }
  return into;
}

/** A bucket's columns as stored: a bucket of one number keeps min/max/sum as NULL (they equal `last`), ~25 bytes less. */
export function bucketColumns(b: Bucket): [min: number | null, max: number | null, sum: number | null] {
  return b.n === 1 && typeof b.last === 'number' ? [null, null, null] : [b.min, b.max, b.sum];
}

/** Estimated bytes of a bucket's row, as stored. */
export function bucketBytes(b: Bucket): number {
  return (bucketColumns(b)[0] === null ? COMPACT_BUCKET_ROW_BYTES : BUCKET_ROW_BYTES) + valueBytes(b.last);
}

/** The bucket a stored row holds (the inverse of bucketColumns). */
export function storedBucket(n: number, min: number | null, max: number | null, sum: number | null, last: number | string, lastTs: number): Bucket {
  if (n === 1 && min === null && typeof last === 'number') return { n, min: last, max: last, sum: last, last, lastTs };
  return { n, min, max, sum, last, lastTs };
}

/** Folds `bucket` into `map` under `key`. */
export function accumulate<K>(map: Map<K, Bucket>, key: K, bucket: Bucket): void {
  const had = map.get(key);
  if (had === undefined) map.set(key, { ...bucket });
  else mergeInto(had, bucket);
}

/** The start of the `step`-ms bucket holding `ts`, aligned to the epoch (so answers are stable across queries). */
export function bucketStart(ts: number, step: number): number {
  return Math.floor(ts / step) * step;
}

/** How many `step` buckets [since, until) touches: the most points one series can have. */
export function bucketCount(since: number, until: number, step: number): number {
  return until <= since ? 0 : bucketStart(until - 1, step) / step - bucketStart(since, step) / step + 1;
}
