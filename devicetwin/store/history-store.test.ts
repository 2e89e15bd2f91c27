// History in the SQLite store beyond the conformance suite: the size estimate against what
// SQLite measures, rollback of a failed group, and maintenance that lets commits through.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { eventually } from '../../test/async.js';
import { DEFAULT_HISTORY_POLICY } from '../history.js';
import type { DeviceTwinState, HistoryEntry, HistoryPolicy } from '../types.js';
import { BATCH } from './history-maintain.js';
import { SqliteTwinStore, type SqliteTwinStoreOptions } from './sqlite.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const H0 = Math.floor(1_718_000_000_000 / HOUR) * HOUR;
const LONG: HistoryPolicy = { ...DEFAULT_HISTORY_POLICY, maxAgeMs: 100 * DAY };

function dev(id: string): DeviceTwinState {
  const [namespace = '', name = ''] = id.split('/');
  return { id, namespace, name, version: 1, twins: {}, state: 'unknown', lastOnline: '' };
}

describe('SqliteTwinStore history', () => {
  let dir = '';
  let now = H0;
  const stores: SqliteTwinStore[] = [];
  const make = (options: Partial<SqliteTwinStoreOptions> = {}): SqliteTwinStore => {
    const store = new SqliteTwinStore({ path: join(dir, 'twins.db'), clock: () => now, historyMaintenanceMs: 0, history: LONG, ...options });
    stores.push(store);
    return store;
  };
  const peer = (): Database.Database => new Database(join(dir, 'twins.db'));
  /** One group: `count` entries for each of 100 devices × 5 properties, one change each. */
  async function fill(store: SqliteTwinStore, rounds: number, spacingMs: number): Promise<void> {
    for (let k = 0; k < rounds; k++) {
      const commits: Array<Promise<void>> = [];
      for (let d = 0; d < 100; d++) {
        for (const p of ['voltage', 'current', 'power', 'energy', 'relay']) {
          const value = p === 'relay' ? (k % 2 === 0 ? 'true' : 'false') : Math.round(Math.random() * 1e6) / 100;
          const entry: HistoryEntry = { property: p, kind: 'reported', timestamp: H0 + k * spacingMs + d, value };
          commits.push(store.commit([{ kind: 'twins', device: dev(`ns/d${d}`), changed: [], history: [entry] }]));
        }
      }
      await Promise.all(commits);
    }
  }
  /** history_parts as kept, and as counted from the rows themselves. */
  function counters(db: Database.Database): { kept: unknown[]; counted: unknown[] } {
    return {
      kept: db.prepare('SELECT part, tier, rows FROM history_parts ORDER BY part, tier').all(),
      counted: db.prepare(`SELECT part, 0 AS tier, count(*) AS rows FROM
          (SELECT part FROM history_raw UNION ALL SELECT ts / ${HOUR} AS part FROM history_log) GROUP BY part
        UNION ALL SELECT part, tier, count(*) FROM history_buckets GROUP BY part, tier ORDER BY part, tier`).all(),
    };
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgetwin-history-sqlite-'));
    now = H0;
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('estimates its size within 30 % of what SQLite measures (dbstat), raw and downsampled', async () => {
    const store = make();
    await store.open();
    await fill(store, 100, 7000);
    const raw = (await store.historyStats()).tiers.raw;
    expect(raw.rows).toBe(50_000);
    now = H0 + 3 * DAY;
    await store.maintainHistory();
    const minute = (await store.historyStats()).tiers.minute;
    await store.close();
    const db = peer();
    const measured = (name: string): number => db.prepare<[string], number>('SELECT sum(pgsize) FROM dbstat WHERE name = ?').pluck().get(name) ?? 0;
    expect(measured('history_raw')).toBe(4096); // emptied by downsampling: its root page is left
    expect(minute.rows).toBe(6000);
    expect(minute.bytes / measured('history_buckets')).toBeGreaterThan(0.7);
    expect(minute.bytes / measured('history_buckets')).toBeLessThan(1.3);
    expect(counters(db).kept).toEqual(counters(db).counted);
    db.close();
    // The raw estimate, measured before downsampling in a second store.
    // A new store in the same place: its created-marker goes too, or the open reports the
    // store as damaged (store/files.ts).
    for (const f of ['twins.db', 'twins.db.created', 'twins.db-wal', 'twins.db-shm']) rmSync(join(dir, f), { force: true });
    now = H0;
    const again = make();
    await again.open();
    await fill(again, 100, 7000);
    await again.maintainHistory(); // moves the log into history_raw; nothing is old enough for more
    await again.close();
    const db2 = peer();
    const rawMeasured = db2.prepare<[], number>("SELECT sum(pgsize) FROM dbstat WHERE name = 'history_raw'").pluck().get() ?? 0;
    db2.close();
    expect(raw.bytes / rawMeasured).toBeGreaterThan(0.7);
    expect(raw.bytes / rawMeasured).toBeLessThan(1.3);
  });

  it('estimates buckets of one value (compact rows) within 30 % too: a sparse series downsampled', async () => {
    const store = make();
    await store.open();
    // One value per series every 2 minutes: every 1-minute bucket holds one number.
    await fill(store, 60, 120_000);
    now = H0 + 3 * DAY;
    await store.maintainHistory();
    const minute = (await store.historyStats()).tiers.minute;
    await store.close();
    const db = peer();
    const measured = db.prepare<[], number>("SELECT sum(pgsize) FROM dbstat WHERE name = 'history_buckets'").pluck().get() ?? 0;
    expect(db.prepare('SELECT count(*) FROM history_buckets WHERE min IS NULL').pluck().get()).toBe(30_000);
    db.close();
    expect(minute.rows).toBe(30_000);
    expect(minute.bytes / measured).toBeGreaterThan(0.7);
    expect(minute.bytes / measured).toBeLessThan(1.3);
  });

  it('a commit appends to the log; each second the log moves into its hours, and a query sees the entries either way', async () => {
    const store = make({ historySettleMs: 20 });
    await store.open();
    await fill(store, 2, 1000);
    const query = (): Promise<unknown> => store.queryHistory({ device: 'ns/d7', series: [{ property: 'voltage', kind: 'reported' }], since: 0, until: H0 + DAY, maxPoints: 10 });
    const db = peer();
    const inLog = db.prepare<[], number>('SELECT count(*) FROM history_log').pluck();
    const inRaw = db.prepare<[], number>('SELECT count(*) FROM history_raw').pluck();
    const before = await query();
    expect(before).toEqual([expect.objectContaining({ t: [H0 + 7, H0 + 1007] })]);
    await eventually(async () => (inLog.get() === 0 ? true : undefined));
    expect(inRaw.get()).toBe(1000);
    expect(await query()).toEqual(before);
    expect(counters(db).kept).toEqual(counters(db).counted);
    db.close();
  });

  it('a failed group writes no history and leaves no stale series behind', async () => {
    const store = make({ pragmas: { max_page_count: 40 } });
    await store.open();
    const entry = (value: string, timestamp: number): HistoryEntry => ({ property: 'label', kind: 'reported', timestamp, value });
    // Too big for the file: SQLITE_FULL after the series was interned inside the transaction.
    await expect(store.commit([{ kind: 'twins', device: dev('ns/a'), changed: [], history: [entry('x'.repeat(400_000), H0)] }])).rejects.toMatchObject({
      code: 'EDGETWIN_ERR_STORE_WRITE',
    });
    await store.commit([{ kind: 'twins', device: dev('ns/a'), changed: [], history: [entry('small', H0 + 1)] }]);
    const series = await store.queryHistory({ device: 'ns/a', series: [{ property: 'label', kind: 'reported' }], since: 0, until: H0 + DAY, maxPoints: 10 });
    expect(series).toEqual([{ property: 'label', kind: 'reported', t: [H0 + 1], value: ['small'] }]);
    expect((await store.historyStats()).tiers.raw.rows).toBe(1);
  });

  it('a device whose cached series ids were forgotten (over 10,000 devices) finds them again', async () => {
    const store = make();
    await store.open();
    const entry = (timestamp: number): HistoryEntry => ({ property: 'p', kind: 'reported', timestamp, value: timestamp - H0 });
    const write = (from: number, to: number, t: number): Promise<void[]> =>
      Promise.all(Array.from({ length: to - from }, (_, i) => store.commit([{ kind: 'twins', device: dev(`ns/d${from + i}`), changed: [], history: [entry(t)] }])));
    await write(0, 10_001, H0 + 1);
    await write(0, 1, H0 + 2); // ns/d0 was the first cached, so the first forgotten
    const series = await store.queryHistory({ device: 'ns/d0', series: [{ property: 'p', kind: 'reported' }], since: 0, until: H0 + DAY, maxPoints: 10 });
    expect(series).toEqual([{ property: 'p', kind: 'reported', t: [H0 + 1, H0 + 2], value: [1, 2] }]);
    const db = peer();
    expect(db.prepare('SELECT count(*) FROM history_series').pluck().get()).toBe(10_001);
    db.close();
  });

  it('maintenance runs in short steps: commits made meanwhile are answered before it ends', async () => {
    const store = make({ history: { ...LONG, maxAgeMs: DAY } });
    await store.open();
    await fill(store, Math.ceil((4 * BATCH) / 500), 1000);
    now = H0 + 3 * DAY;
    const order: string[] = [];
    const maintained = store.maintainHistory().then((r) => {
      order.push('maintenance');
      return r;
    });
    await new Promise((resolve) => setImmediate(resolve));
    await store.commit([{ kind: 'twins', device: dev('ns/new'), changed: [], history: [{ property: 'p', kind: 'reported', timestamp: now, value: 1 }] }]);
    order.push('commit');
    const report = await maintained;
    expect(order).toEqual(['commit', 'maintenance']);
    expect(report.expired).toBeGreaterThanOrEqual(4 * BATCH);
    expect((await store.historyStats()).tiers.raw.rows).toBe(1);
  });

  it('runs maintenance on its own every historyMaintenanceMs', async () => {
    const store = make({ historyMaintenanceMs: 20 });
    await store.open();
    await fill(store, 2, 1000);
    now = H0 + 2 * DAY;
    await eventually(async () => ((await store.historyStats()).tiers.raw.rows === 0 ? true : undefined));
    expect((await store.historyStats()).tiers.minute.rows).toBeGreaterThan(0);
  });

  it('close() during maintenance stops it between two steps; the counters still match the rows', async () => {
    const store = make({ history: { ...LONG, maxAgeMs: DAY } });
    await store.open();
    await fill(store, Math.ceil((6 * BATCH) / 500), 1000);
    now = H0 + 3 * DAY;
    const maintained = store.maintainHistory();
    await new Promise((resolve) => setImmediate(resolve));
    await store.close();
    await expect(maintained).resolves.toBeDefined();
    const db = peer();
    const { kept, counted } = counters(db);
    expect(kept).toEqual(counted);
    db.close();
    await expect(store.maintainHistory()).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_CLOSED' });
    await expect(store.queryHistory({ device: 'ns/a', series: [], since: 0, until: 1, maxPoints: 1 })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_CLOSED' });
  });
});
