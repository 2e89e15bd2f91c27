// History retention and downsampling, off the hot path. A run is a generator: each step is one
// short transaction of at most BATCH rows, and the store (sqlite.ts) pauses between steps, so
// commits interleave and trimming a month never holds the event loop for more than a few ms.
// It runs on the store's own connection: a second connection in a worker would take SQLite's
// write lock, and a commit meeting that lock sleeps in SQLite's busy handler with the event loop
// blocked (sqlite.org/c3ref/busy_timeout.html), which is worse than running the step itself.
//
// First the log of recent entries is moved into history_raw (settle, also run every second on
// its own). Then, in order: whole hours older than maxAge are dropped (except series of devices allowed to keep
// more); devices with their own maxAge or maxBytes are trimmed to it; the whole history is
// trimmed to maxBytes, oldest hours first; then raw hours old enough become 1-minute buckets,
// and 1-minute hours old enough become 1-hour buckets.

import type { Database, Statement } from 'better-sqlite3';

import { historyFor } from '../history.js';
import type { HistoryMaintenanceReport, HistoryPolicy } from '../types.js';
import {
  BUCKET_MS,
  BUCKET_ROW_BYTES,
  COMPACT_BUCKET_ROW_BYTES,
  HOUR,
  MINUTE,
  PART_MS,
  RAW,
  RAW_ROW_BYTES,
  bucketBytes,
  bucketColumns,
  mergeInto,
  partOf,
  pointBucket,
  storedBucket,
  valueBytes,
  type Bucket,
} from './history-buckets.js';

/** Rows one step touches at most (~2–5 ms of SQLite work on the benchmark machine). */
export const BATCH = 2000;
/** Thrown to roll back a settle step's fast insert (#settleStep). */
class SameMs extends Error {}
const SAME_MS = new SameMs('an entry of the batch meets one already stored with the same key');

type Counts = { rows: number; bytes: number };
type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type RawRow = [series: number, off: number, seq: number, value: number | string];
type MinuteRow = [series: number, off: number, n: number, min: number | null, max: number | null, sum: number | null, last: number | string, lastOff: number];

const RAW_SIZE = `(${RAW_ROW_BYTES} + CASE WHEN typeof(value) = 'text' THEN length(value) ELSE 8 END)`;
const BUCKET_SIZE = `(CASE WHEN min IS NULL THEN ${COMPACT_BUCKET_ROW_BYTES} ELSE ${BUCKET_ROW_BYTES} END + CASE WHEN typeof(last) = 'text' THEN length(last) ELSE 8 END)`;
const NOT_IN = 'series NOT IN (SELECT value FROM json_each(?))';
const IN = 'series IN (SELECT value FROM json_each(?))';

export class HistoryMaintainer {
  readonly #db: Database;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: Database) {
    this.#db = db;
    this.#s = prepare(db);
  }

  /** Moves the log into history_raw, BATCH entries per `next()`, until it is empty; returns how many moved. */
  *settle(): Generator<void, number> {
    let moved = 0;
    for (let n = this.#step(() => this.#settleStep()); n > 0; n = this.#step(() => this.#settleStep())) {
      moved += n;
      yield;
    }
    return moved;
  }

  /** One maintenance run; each `next()` is one transaction. Returns what the run did. */
  *run(policy: HistoryPolicy, now: number): Generator<void, HistoryMaintenanceReport> {
    const report: Mutable<HistoryMaintenanceReport> = { downsampled: 0, expired: 0, evicted: 0 };
    const s = this.#s;
    // Every entry in its hour first, so each step below sees all of an hour's rows.
    yield* this.settle();
    const special = this.#specialDevices(policy);
    const keepLonger = JSON.stringify(special.filter((d) => d.maxAgeMs > policy.maxAgeMs).flatMap((d) => d.series));

    // 1. Hours wholly older than maxAge.
    const expiredBefore = partOf(now - policy.maxAgeMs);
    for (const part of s.partsBefore.all(expiredBefore)) {
      for (const n of this.#dropPart(part, keepLonger)) {
        report.expired += n;
        yield;
      }
    }
    // 2. Devices with their own maxAge or maxBytes.
    for (const d of special) {
      const series = JSON.stringify(d.series);
      let cut = partOf(now - d.maxAgeMs);
      // A device's own maxBytes matters only below the global one, which caps it anyway.
      if (d.maxBytes < policy.maxBytes) {
        const bySize = this.#sizeCut(this.#deviceParts(series), d.maxBytes);
        if (bySize !== undefined && bySize > cut) cut = bySize;
      }
      for (const part of s.partsBefore.all(cut)) {
        const n = this.#step(() => this.#dropSeriesPart(part, series));
        if (n === 0) continue;
        if (partOf(now - d.maxAgeMs) > part) report.expired += n;
        else report.evicted += n;
        yield;
      }
    }
    // 3. The whole history under maxBytes, oldest hours first.
    const cut = this.#sizeCut(s.partSizes.all().map(([part, rows, bytes]) => [part, { rows, bytes }] as const), policy.maxBytes);
    if (cut !== undefined) {
      for (const part of s.partsBefore.all(cut)) {
        for (const n of this.#dropPart(part, '[]')) {
          report.evicted += n;
          yield;
        }
      }
    }
    // 4. Downsampling.
    for (const part of s.tierPartsBefore.all(RAW, partOf(now - policy.minuteBucketsAfterMs))) {
      for (let n = this.#step(() => this.#foldRaw(part)); n > 0; n = this.#step(() => this.#foldRaw(part))) {
        report.downsampled += n;
        yield;
      }
    }
    for (const part of s.tierPartsBefore.all(MINUTE, partOf(now - policy.hourBucketsAfterMs))) {
      for (let n = this.#step(() => this.#foldMinutes(part)); n > 0; n = this.#step(() => this.#foldMinutes(part))) {
        report.downsampled += n;
        yield;
      }
    }
    return report;
  }

  #step(fn: () => number): number {
    return this.#db.transaction(fn).immediate();
  }

  /** Devices whose own settings differ from the policy's maxAge or maxBytes, with their series ids. */
  #specialDevices(policy: HistoryPolicy): Array<{ series: number[]; maxAgeMs: number; maxBytes: number }> {
    const ids = new Set<string>();
    for (const [id, o] of policy.devices) if (o.maxAgeMs !== undefined || o.maxBytes !== undefined) ids.add(id);
    const models = [...policy.models].filter(([, o]) => o.maxAgeMs !== undefined || o.maxBytes !== undefined).map(([name]) => name);
    const modelOf = new Map<string, string>();
    if (models.length > 0) {
      for (const [id, model] of this.#s.membersOf.all(JSON.stringify(models))) {
        ids.add(id);
        modelOf.set(id, model);
      }
    }
    const out: Array<{ series: number[]; maxAgeMs: number; maxBytes: number }> = [];
    for (const id of ids) {
      const model = modelOf.get(id) ?? this.#s.modelOf.get(id);
      const { maxAgeMs, maxBytes } = historyFor(policy, id, model);
      if (maxAgeMs === policy.maxAgeMs && maxBytes === policy.maxBytes) continue;
      const series = this.#s.seriesOf.all(id);
      if (series.length > 0) out.push({ series, maxAgeMs, maxBytes });
    }
    return out;
  }

  /**
   * The first hour to keep so that the hours from it to the newest fit in `maxBytes`, or
   * undefined when everything fits. The newest hour is always kept: it is being written.
   */
  #sizeCut(parts: ReadonlyArray<readonly [number, Counts]>, maxBytes: number): number | undefined {
    const byPart = new Map<number, number>();
    for (const [part, c] of parts) byPart.set(part, (byPart.get(part) ?? 0) + c.bytes);
    const newestFirst = [...byPart.keys()].sort((a, b) => b - a);
    let total = 0;
    for (let i = 0; i < newestFirst.length; i++) {
      total += byPart.get(newestFirst[i]!)!;
      if (total > maxBytes) return i === 0 ? newestFirst[0] : newestFirst[i - 1];
    }
    return undefined;
  }

  /** Bytes per hour of a device's series (both tables). */
  #deviceParts(series: string): Array<readonly [number, Counts]> {
    const all = JSON.stringify(this.#s.allParts.all());
    return [
      ...this.#s.deviceRaw.all(all, series).map(([part, rows, bytes]) => [part, { rows, bytes }] as const),
      ...this.#s.deviceBuckets.all(all, series).map(([part, rows, bytes]) => [part, { rows, bytes }] as const),
    ];
  }

  /** Drops one hour (every tier), except the series in `keep`, BATCH rows per step. */
  *#dropPart(part: number, keep: string): Generator<number, void> {
    const s = this.#s;
    for (;;) {
      const n = this.#step(() => {
        const bound = s.rawBound.get(part, keep, BATCH - 1);
        const c = bound === undefined ? s.rawRestStats.get(part, keep)! : s.rawBatchStats.get(part, ...bound, keep)!;
        if (bound === undefined) s.rawRestDelete.run(part, keep);
        else s.rawBatchDelete.run(part, ...bound, keep);
        this.#adjust(part, RAW, -c[0], -c[1]);
        return c[0];
      });
      if (n > 0) yield n;
      if (n < BATCH) break;
    }
    for (;;) {
      const n = this.#step(() => {
        const bound = s.bucketBound.get(part, keep, BATCH - 1);
        const stats = bound === undefined ? s.bucketRestStats.all(part, keep) : s.bucketBatchStats.all(part, ...bound, keep);
        if (bound === undefined) s.bucketRestDelete.run(part, keep);
        else s.bucketBatchDelete.run(part, ...bound, keep);
        let rows = 0;
        for (const [tier, count, bytes] of stats) {
          this.#adjust(part, tier, -count, -bytes);
          rows += count;
        }
        return rows;
      });
      if (n > 0) yield n;
      if (n < BATCH) break;
    }
  }

  /** Drops the given series' rows of one hour; returns the rows dropped. */
  #dropSeriesPart(part: number, series: string): number {
    const s = this.#s;
    const [rawRows, rawBytes] = s.seriesRawStats.get(part, series)!;
    s.seriesRawDelete.run(part, series);
    this.#adjust(part, RAW, -rawRows, -rawBytes);
    let rows = rawRows;
    for (const [tier, count, bytes] of s.seriesBucketStats.all(part, series)) {
      this.#adjust(part, tier, -count, -bytes);
      rows += count;
    }
    s.seriesBucketDelete.run(part, series);
    return rows;
  }

  /**
   * Moves the oldest BATCH log entries into history_raw in one INSERT … SELECT (no row crosses
   * into JavaScript), sorted by key so that each series' entries go to its page together.
   * Entries of one series in the same ms are numbered in log order (`seq`, a window function;
   * ~1.5 µs an entry). Should one of them meet an entry of an earlier batch with the same key
   * (a pair split by the batch boundary: the insert then skips it), the insert is rolled back to
   * its savepoint and the batch moved by the exact statement, which numbers after the entries
   * already stored (a seek per entry, ~2.2 µs). Returns how many moved.
   */
  #settleStep(): number {
    const s = this.#s;
    const end = s.logBatchEnd.get(BATCH - 1) ?? s.logLast.get();
    if (end === undefined || end === null) return 0;
    const count = s.logCount.get(end) ?? 0;
    try {
      // Nested in the step's transaction, so a throw rolls back this insert only (a savepoint).
      this.#db.transaction(() => {
        if (s.logSettleFast.run(end).changes !== count) throw SAME_MS;
      })();
    } catch (err) {
      if (err !== SAME_MS) throw err;
      s.logSettle.run(end);
    }
    s.logDelete.run(end);
    return count;
  }

  /** Folds the first BATCH raw rows of an hour into 1-minute buckets; returns the rows folded. */
  #foldRaw(part: number): number {
    const s = this.#s;
    const rows = s.rawFirst.all(part, BATCH);
    const last = rows[rows.length - 1];
    if (last === undefined) return 0;
    const buckets = new Map<number, { series: number; off: number; b: Bucket }>();
    let bytes = 0;
    for (const [series, off, , value] of rows) {
      const start = Math.floor(off / BUCKET_MS[MINUTE]) * BUCKET_MS[MINUTE];
      const key = series * PART_MS + start;
      const had = buckets.get(key);
      if (had === undefined) buckets.set(key, { series, off: start, b: pointBucket(off, value) });
      else mergeInto(had.b, pointBucket(off, value));
      bytes += RAW_ROW_BYTES + valueBytes(value);
    }
    this.#writeBuckets(part, MINUTE, buckets.values());
    s.rawFoldDelete.run(part, last[0], last[1], last[2]);
    this.#adjust(part, RAW, -rows.length, -bytes);
    return rows.length;
  }

  /** Folds the first BATCH 1-minute buckets of an hour into 1-hour buckets; returns the rows folded. */
  #foldMinutes(part: number): number {
    const s = this.#s;
    const rows = s.minuteFirst.all(part, BATCH);
    const last = rows[rows.length - 1];
    if (last === undefined) return 0;
    const buckets = new Map<number, { series: number; off: number; b: Bucket }>();
    let bytes = 0;
    for (const [series, , n, min, max, sum, value, lastOff] of rows) {
      const b = storedBucket(n, min, max, sum, value, lastOff);
      bytes += bucketBytes(b);
      const had = buckets.get(series);
      if (had === undefined) buckets.set(series, { series, off: 0, b: { ...b } });
      else mergeInto(had.b, b);
    }
    this.#writeBuckets(part, HOUR, buckets.values());
    s.minuteFoldDelete.run(part, last[0], last[1]);
    this.#adjust(part, MINUTE, -rows.length, -bytes);
    return rows.length;
  }

  /** Inserts buckets, merging each into one already stored (from a previous step) for the same key. */
  #writeBuckets(part: number, tier: typeof MINUTE | typeof HOUR, buckets: Iterable<{ series: number; off: number; b: Bucket }>): void {
    const s = this.#s;
    let rows = 0;
    let bytes = 0;
    for (const { series, off, b } of buckets) {
      if (s.bucketInsert.run(part, tier, series, off, b.n, ...bucketColumns(b), b.last, b.lastTs).changes > 0) {
        rows++;
        bytes += bucketBytes(b);
        continue;
      }
      const [n, min, max, sum, last, lastOff] = s.bucketGet.get(part, tier, series, off)!;
      const old = storedBucket(n, min, max, sum, last, lastOff);
      const before = bucketBytes(old);
      const merged = mergeInto(old, b);
      s.bucketUpdate.run(merged.n, ...bucketColumns(merged), merged.last, merged.lastTs, part, tier, series, off);
      bytes += bucketBytes(merged) - before;
    }
    this.#adjust(part, tier, rows, bytes);
  }

  #adjust(part: number, tier: number, rows: number, bytes: number): void {
    if (rows === 0 && bytes === 0) return;
    this.#s.countsAdd.run(part, tier, rows, bytes);
    this.#s.countsPrune.run(part, tier);
  }
}

function prepare(db: Database) {
  const q = <P extends unknown[], R>(sql: string): Statement<P, R> => db.prepare<P, R>(sql);
  type Key3 = [series: number, off: number, seq: number];
  type Key2 = [series: number, off: number];
  return {
    partsBefore: q<[number], number>('SELECT DISTINCT part FROM history_parts WHERE part < ? ORDER BY part').pluck(),
    tierPartsBefore: q<[number, number], number>('SELECT part FROM history_parts WHERE tier = ? AND part < ? ORDER BY part').pluck(),
    allParts: q<[], number>('SELECT DISTINCT part FROM history_parts ORDER BY part').pluck(),
    partSizes: q<[], [number, number, number]>('SELECT part, rows, bytes FROM history_parts').raw(true),
    membersOf: q<[string], [string, string]>('SELECT id, model FROM members WHERE model IN (SELECT value FROM json_each(?))').raw(true),
    modelOf: q<[string], string>('SELECT model FROM members WHERE id = ?').pluck(),
    seriesOf: q<[string], number>('SELECT id FROM history_series WHERE device = ?').pluck(),
    deviceRaw: q<[string, string], [number, number, number]>(
      `SELECT part, count(*), sum(${RAW_SIZE}) FROM history_raw WHERE part IN (SELECT value FROM json_each(?)) AND ${IN} GROUP BY part`,
    ).raw(true),
    deviceBuckets: q<[string, string], [number, number, number]>(
      `SELECT part, count(*), sum(${BUCKET_SIZE}) FROM history_buckets WHERE part IN (SELECT value FROM json_each(?)) AND tier IN (1, 2) AND ${IN} GROUP BY part`,
    ).raw(true),
    // Dropping an hour, BATCH rows at a time: the key of the BATCH-th row bounds a step.
    rawBound: q<[number, string, number], Key3>(`SELECT series, off, seq FROM history_raw WHERE part = ? AND ${NOT_IN} ORDER BY series, off, seq LIMIT 1 OFFSET ?`).raw(true),
    rawBatchStats: q<[number, ...Key3, string], [number, number]>(
      `SELECT count(*), coalesce(sum(${RAW_SIZE}), 0) FROM history_raw WHERE part = ? AND (series, off, seq) <= (?, ?, ?) AND ${NOT_IN}`,
    ).raw(true),
    rawBatchDelete: q<[number, ...Key3, string], unknown>(`DELETE FROM history_raw WHERE part = ? AND (series, off, seq) <= (?, ?, ?) AND ${NOT_IN}`),
    rawRestStats: q<[number, string], [number, number]>(`SELECT count(*), coalesce(sum(${RAW_SIZE}), 0) FROM history_raw WHERE part = ? AND ${NOT_IN}`).raw(true),
    rawRestDelete: q<[number, string], unknown>(`DELETE FROM history_raw WHERE part = ? AND ${NOT_IN}`),
    bucketBound: q<[number, string, number], [tier: number, ...Key2]>(
      `SELECT tier, series, off FROM history_buckets WHERE part = ? AND ${NOT_IN} ORDER BY tier, series, off LIMIT 1 OFFSET ?`,
    ).raw(true),
    bucketBatchStats: q<[number, number, ...Key2, string], [number, number, number]>(
      `SELECT tier, count(*), sum(${BUCKET_SIZE}) FROM history_buckets WHERE part = ? AND (tier, series, off) <= (?, ?, ?) AND ${NOT_IN} GROUP BY tier`,
    ).raw(true),
    bucketBatchDelete: q<[number, number, ...Key2, string], unknown>(`DELETE FROM history_buckets WHERE part = ? AND (tier, series, off) <= (?, ?, ?) AND ${NOT_IN}`),
    bucketRestStats: q<[number, string], [number, number, number]>(
      `SELECT tier, count(*), sum(${BUCKET_SIZE}) FROM history_buckets WHERE part = ? AND ${NOT_IN} GROUP BY tier`,
    ).raw(true),
    bucketRestDelete: q<[number, string], unknown>(`DELETE FROM history_buckets WHERE part = ? AND ${NOT_IN}`),
    // One device's series in one hour.
    seriesRawStats: q<[number, string], [number, number]>(`SELECT count(*), coalesce(sum(${RAW_SIZE}), 0) FROM history_raw WHERE part = ? AND ${IN}`).raw(true),
    seriesRawDelete: q<[number, string], unknown>(`DELETE FROM history_raw WHERE part = ? AND ${IN}`),
    seriesBucketStats: q<[number, string], [number, number, number]>(
      `SELECT tier, count(*), sum(${BUCKET_SIZE}) FROM history_buckets WHERE part = ? AND tier IN (1, 2) AND ${IN} GROUP BY tier`,
    ).raw(true),
    seriesBucketDelete: q<[number, string], unknown>(`DELETE FROM history_buckets WHERE part = ? AND tier IN (1, 2) AND ${IN}`),
    // Settling the log.
    logBatchEnd: q<[number], number>('SELECT id FROM history_log ORDER BY id LIMIT 1 OFFSET ?').pluck(),
    logLast: q<[], number | null>('SELECT max(id) FROM history_log').pluck(),
    logCount: q<[number], number>('SELECT count(*) FROM history_log WHERE id <= ?').pluck(),
    // WHERE true: SQLite's parser needs it between INSERT … SELECT and an ON CONFLICT clause.
    logSettleFast: q<[number], unknown>(
      `INSERT INTO history_raw (part, series, off, seq, value)
       SELECT ts / ${PART_MS}, series, ts % ${PART_MS}, row_number() OVER (PARTITION BY series, ts ORDER BY id) - 1, value
       FROM history_log WHERE id <= ? AND true ORDER BY series, ts, id
       ON CONFLICT DO NOTHING`,
    ),
    // Timestamps are ms since the epoch, never negative, so SQLite's integer division is floor.
    logSettle: q<[number], unknown>(
      `INSERT INTO history_raw (part, series, off, seq, value)
       SELECT ts / ${PART_MS}, series, ts % ${PART_MS},
         row_number() OVER (PARTITION BY series, ts ORDER BY id) - 1 +
           coalesce((SELECT max(r.seq) + 1 FROM history_raw AS r WHERE r.part = l.ts / ${PART_MS} AND r.series = l.series AND r.off = l.ts % ${PART_MS}), 0),
         value
       FROM history_log AS l WHERE id <= ? ORDER BY series, ts, id`,
    ),
    logDelete: q<[number], unknown>('DELETE FROM history_log WHERE id <= ?'),
    // Downsampling.
    rawFirst: q<[number, number], RawRow>('SELECT series, off, seq, value FROM history_raw WHERE part = ? ORDER BY series, off, seq LIMIT ?').raw(true),
    rawFoldDelete: q<[number, ...Key3], unknown>('DELETE FROM history_raw WHERE part = ? AND (series, off, seq) <= (?, ?, ?)'),
    minuteFirst: q<[number, number], MinuteRow>(
      `SELECT series, off, n, min, max, sum, last, last_off FROM history_buckets WHERE part = ? AND tier = ${MINUTE} ORDER BY series, off LIMIT ?`,
    ).raw(true),
    minuteFoldDelete: q<[number, ...Key2], unknown>(`DELETE FROM history_buckets WHERE part = ? AND tier = ${MINUTE} AND (series, off) <= (?, ?)`),
    bucketInsert: q<[number, number, number, number, number, number | null, number | null, number | null, number | string, number], unknown>(
      `INSERT INTO history_buckets (part, tier, series, off, n, min, max, sum, last, last_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    bucketGet: q<[number, number, number, number], [number, number | null, number | null, number | null, number | string, number]>(
      'SELECT n, min, max, sum, last, last_off FROM history_buckets WHERE part = ? AND tier = ? AND series = ? AND off = ?',
    ).raw(true),
    bucketUpdate: q<[number, number | null, number | null, number | null, number | string, number, number, number, number, number], unknown>(
      'UPDATE history_buckets SET n = ?, min = ?, max = ?, sum = ?, last = ?, last_off = ? WHERE part = ? AND tier = ? AND series = ? AND off = ?',
    ),
    countsAdd: q<[number, number, number, number], unknown>(
      `INSERT INTO history_parts (part, tier, rows, bytes) VALUES (?, ?, ?, ?)
       ON CONFLICT (part, tier) DO UPDATE SET rows = rows + excluded.rows, bytes = bytes + excluded.bytes`,
    ),
    countsPrune: q<[number, number], unknown>('DELETE FROM history_parts WHERE part = ? AND tier = ? AND rows <= 0'),
  };
}
