// History queries: one series at a time, hour by hour (`part IN (…) AND series = ?` is one
// primary-key seek per hour), from the raw entries and the downsampled buckets alike, plus the
// entries of the last second or so that still wait in history_log (a scan of a small table). Without
// a step the points come as stored (a bucket gives its last value at its time); with a step
// they are folded into epoch-aligned buckets. The point limit is checked before any row is
// read into JavaScript: counted in SQLite without a step, bounded by the arithmetic with one.

import type { Database, Statement } from 'better-sqlite3';

import { edgetwinError } from '../../errors.js';
import { formatDuration } from '../../schemas/index.js';
import type { HistoryBuckets, HistoryPoints, HistoryQuery, HistorySeries } from '../types.js';
import { KIND_CODES, PART_MS, accumulate, bucketCount, bucketStart, partOf, pointBucket, storedBucket, type Bucket } from './history-buckets.js';

type RawRow = [part: number, off: number, value: number | string];
type BucketRow = [part: number, off: number, n: number, min: number | null, max: number | null, sum: number | null, last: number | string, lastOff: number];
type Range = [parts: string, series: number, since: number, until: number];
type LogRange = [series: number, since: number, until: number];

const TS = `part * ${PART_MS} + off`;
const LAST_TS = `part * ${PART_MS} + last_off`;
const PARTS = 'part IN (SELECT value FROM json_each(?))';

/** Steps a refusal suggests, smallest first. */
const NICE_STEPS = [1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400].map((s) => s * 1000);

export class HistoryReader {
  readonly #findSeries: Statement<[string, string, number], number>;
  readonly #parts: Statement<[number, number], number>;
  readonly #countRaw: Statement<Range, number>;
  readonly #countBuckets: Statement<Range, number>;
  readonly #raw: Statement<Range, RawRow>;
  readonly #points: Statement<Range, RawRow>;
  readonly #buckets: Statement<Range, BucketRow>;
  readonly #countLog: Statement<LogRange, number>;
  readonly #log: Statement<LogRange, [ts: number, value: number | string]>;

  constructor(db: Database) {
    this.#findSeries = db.prepare<[string, string, number], number>('SELECT id FROM history_series WHERE device = ? AND property = ? AND kind = ?').pluck();
    this.#parts = db.prepare<[number, number], number>('SELECT DISTINCT part FROM history_parts WHERE part BETWEEN ? AND ? ORDER BY part').pluck();
    this.#countRaw = db.prepare<Range, number>(`SELECT count(*) FROM history_raw WHERE ${PARTS} AND series = ? AND ${TS} >= ? AND ${TS} < ?`).pluck();
    this.#countBuckets = db.prepare<Range, number>(`SELECT count(*) FROM history_buckets WHERE ${PARTS} AND tier IN (1, 2) AND series = ? AND ${LAST_TS} >= ? AND ${LAST_TS} < ?`).pluck();
    this.#raw = db.prepare<Range, RawRow>(`SELECT part, off, value FROM history_raw WHERE ${PARTS} AND series = ? AND ${TS} >= ? AND ${TS} < ? ORDER BY part, off, seq`).raw(true);
    // A bucket as a point: its last value at the time of that value.
    this.#points = db.prepare<Range, RawRow>(`SELECT part, last_off, last FROM history_buckets WHERE ${PARTS} AND tier IN (1, 2) AND series = ? AND ${LAST_TS} >= ? AND ${LAST_TS} < ?`).raw(true);
    // A bucket folded into a step bucket by its start.
    this.#buckets = db.prepare<Range, BucketRow>(
      `SELECT part, off, n, min, max, sum, last, last_off FROM history_buckets WHERE ${PARTS} AND tier IN (1, 2) AND series = ? AND ${TS} >= ? AND ${TS} < ?`,
    ).raw(true);
    this.#countLog = db.prepare<LogRange, number>('SELECT count(*) FROM history_log WHERE series = ? AND ts >= ? AND ts < ?').pluck();
    this.#log = db.prepare<LogRange, [number, number | string]>('SELECT ts, value FROM history_log WHERE series = ? AND ts >= ? AND ts < ? ORDER BY id').raw(true);
  }

  query(q: HistoryQuery): HistorySeries[] {
    const found: Array<{ property: string; kind: HistoryQuery['series'][number]['kind']; id: number }> = [];
    for (const { property, kind } of q.series) {
      const id = this.#findSeries.get(q.device, property, KIND_CODES[kind]);
      if (id !== undefined) found.push({ property, kind, id });
    }
    if (found.length === 0 || q.until <= q.since) return found.map(({ property, kind }) => (q.stepMs === undefined ? emptyPoints(property, kind) : emptyBuckets(property, kind)));
    const parts = JSON.stringify(this.#parts.all(partOf(q.since), partOf(q.until - 1)));
    const step = q.stepMs;
    if (step === undefined) {
      let total = 0;
      for (const { id } of found) {
        total += (this.#countRaw.get(parts, id, q.since, q.until) ?? 0) + (this.#countBuckets.get(parts, id, q.since, q.until) ?? 0) + (this.#countLog.get(id, q.since, q.until) ?? 0);
      }
      if (total > q.maxPoints) throw tooMany(q, found.length, total, false);
      return found.map(({ property, kind, id }) => this.#readPoints(property, kind, [parts, id, q.since, q.until]));
    }
    const bound = bucketCount(q.since, q.until, step) * found.length;
    if (bound > q.maxPoints) throw tooMany(q, found.length, bound, true);
    return found.map(({ property, kind, id }) => this.#readBuckets(property, kind, [parts, id, q.since, q.until], step));
  }

  #readPoints(property: string, kind: HistoryPoints['kind'], range: Range): HistoryPoints {
    const t: number[] = [];
    const value: Array<number | string> = [];
    for (const statement of [this.#raw, this.#points]) {
      for (const [part, off, v] of statement.iterate(...range)) {
        t.push(part * PART_MS + off);
        value.push(v);
      }
    }
    for (const [ts, v] of this.#log.iterate(range[1], range[2], range[3])) {
      t.push(ts);
      value.push(v);
    }
    if (isSorted(t)) return { property, kind, t, value };
    // Buckets and raw entries of one hour interleave while that hour is being downsampled (and
    // an entry of a clock set back may wait in the log).
    const order = t.map((_, i) => i).sort((a, b) => t[a]! - t[b]! || a - b);
    return { property, kind, t: order.map((i) => t[i]!), value: order.map((i) => value[i]!) };
  }

  #readBuckets(property: string, kind: HistoryBuckets['kind'], range: Range, step: number): HistoryBuckets {
    const byStart = new Map<number, Bucket>();
    for (const [part, off, v] of this.#raw.iterate(...range)) {
      const ts = part * PART_MS + off;
      accumulate(byStart, bucketStart(ts, step), pointBucket(ts, v));
    }
    for (const [ts, v] of this.#log.iterate(range[1], range[2], range[3])) accumulate(byStart, bucketStart(ts, step), pointBucket(ts, v));
    for (const [part, off, n, min, max, sum, last, lastOff] of this.#buckets.iterate(...range)) {
      const start = part * PART_MS + off;
      accumulate(byStart, bucketStart(start, step), storedBucket(n, min, max, sum, last, part * PART_MS + lastOff));
    }
    const out: HistoryBuckets = { property, kind, t: [], count: [], min: [], max: [], mean: [], last: [] };
    for (const start of [...byStart.keys()].sort((a, b) => a - b)) {
      const b = byStart.get(start)!;
      out.t.push(start);
      out.count.push(b.n);
      out.min.push(b.min);
      out.max.push(b.max);
      // A series holds numbers or text as its property's type says, so a bucket with a sum
      // holds numbers only (a model whose property changed type mixes them: n counts both).
      out.mean.push(b.sum === null ? null : b.sum / b.n);
      out.last.push(b.last);
    }
    return out;
  }
}

function isSorted(t: readonly number[]): boolean {
  for (let i = 1; i < t.length; i++) if (t[i]! < t[i - 1]!) return false;
  return true;
}

function emptyPoints(property: string, kind: HistoryPoints['kind']): HistoryPoints {
  return { property, kind, t: [], value: [] };
}

function emptyBuckets(property: string, kind: HistoryBuckets['kind']): HistoryBuckets {
  return { property, kind, t: [], count: [], min: [], max: [], mean: [], last: [] };
}

function tooMany(q: HistoryQuery, series: number, points: number, bounded: boolean): Error {
  const fits = NICE_STEPS.find((s) => s > (q.stepMs ?? 0) && bucketCount(q.since, q.until, s) * series <= q.maxPoints);
  const how = fits === undefined
    ? 'ask for a shorter range or fewer properties'
    : `use a step of ${formatDuration(fits)} or more (step=${formatDuration(fits)}, --step ${formatDuration(fits)}), or a shorter range`;
  const count = points.toLocaleString('en-US');
  return edgetwinError(
    'EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS',
    `the history query for ${q.device} would return ${bounded ? 'up to ' : ''}${count} points (limit ${q.maxPoints.toLocaleString('en-US')}): ${how}`,
  );
}
