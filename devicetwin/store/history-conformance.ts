// The history part of the TwinStore conformance suite (conformance.ts runs it for every store):
// entries appended in the group commit, queries with and without a step, the point limit,
// retention by age and by size, per-device and per-model overrides, downsampling. The clock is
// injected, so days pass without waiting for them.
//
// Test-only entry point: it imports vitest.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DEFAULT_HISTORY_POLICY } from '../history.js';
import type { DeviceTwinState, HistoryBuckets, HistoryEntry, HistoryKind, HistoryOverride, HistoryPoints, HistoryPolicy, HistoryQuery, TwinStore } from '../types.js';

/** What a store under test is given besides its directory. */
export interface StoreEnv {
  readonly clock: () => number;
  readonly history: HistoryPolicy;
}

export type MakeStore = (dir: string, env?: StoreEnv) => TwinStore;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** An hour boundary, so each test knows which hour an entry falls in. */
const H0 = Math.floor(1_718_000_000_000 / HOUR) * HOUR;

function dev(id: string, version = 1): DeviceTwinState {
  const [namespace = '', name = ''] = id.split('/');
  return { id, namespace, name, version, twins: {}, state: 'unknown', lastOnline: '' };
}

const reported = (property: string, timestamp: number, value: number | string): HistoryEntry => ({ property, kind: 'reported', timestamp, value });

function policy(fields: Partial<Omit<HistoryPolicy, 'devices' | 'models'>> & { devices?: Record<string, HistoryOverride>; models?: Record<string, HistoryOverride> } = {}): HistoryPolicy {
  const { devices = {}, models = {}, ...rest } = fields;
  return { ...DEFAULT_HISTORY_POLICY, ...rest, devices: new Map(Object.entries(devices)), models: new Map(Object.entries(models)) };
}

export function historyConformance(label: string, makeStore: MakeStore): void {
  describe(`TwinStore history conformance: ${label}`, () => {
    let dir = '';
    let now = H0;
    const made: TwinStore[] = [];

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'edgetwin-history-'));
      now = H0;
    });
    afterEach(async () => {
      await Promise.all(made.splice(0).map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    });

    async function open(history: HistoryPolicy = policy()): Promise<TwinStore> {
      const store = makeStore(dir, { clock: () => now, history });
      made.push(store);
      await store.open();
      return store;
    }

    /** Commits `entries` for `id`, one change per entry, all in one tick (one group). */
    function commitEach(store: TwinStore, id: string, entries: readonly HistoryEntry[]): Promise<void[]> {
      return Promise.all(entries.map((e, i) => store.commit([{ kind: 'twins', device: dev(id, i + 1), changed: [], history: [e] }])));
    }

    const query = (store: TwinStore, q: Partial<HistoryQuery> & { series: HistoryQuery['series'] }): Promise<Array<HistoryPoints | HistoryBuckets>> =>
      store.queryHistory({ device: 'ns/a', since: H0 - 30 * DAY, until: H0 + 30 * DAY, maxPoints: 1_000_000, ...q });
    const temperature: HistoryQuery['series'] = [{ property: 'temperature', kind: 'reported' }];

    it('keeps every entry of every change, even those of one group that folds twin rows', async () => {
      const store = await open();
      const entries = Array.from({ length: 50 }, (_, i) => reported('temperature', H0 + i, 20 + i / 10));
      await commitEach(store, 'ns/a', entries);
      const [series] = await query(store, { series: temperature });
      expect(series).toEqual({ property: 'temperature', kind: 'reported', t: entries.map((e) => e.timestamp), value: entries.map((e) => e.value) });
      await store.close();
      // …and after a reopen.
      const again = await open();
      expect(await query(again, { series: temperature })).toEqual([series]);
    });

    it('keeps kinds and devices apart, text as text, and entries of the same ms in commit order', async () => {
      const store = await open();
      const kinds: HistoryEntry[] = [
        reported('setpoint', H0 + 5, 21.5),
        { property: 'setpoint', kind: 'desired', timestamp: H0 + 5, value: 22 },
        { property: 'setpoint', kind: 'ack', timestamp: H0 + 5, value: 'pending' },
        { property: 'setpoint', kind: 'ack', timestamp: H0 + 5, value: 'failed:EDGETWIN_ERR_MAPPER_TIMEOUT' },
        reported('mode', H0 + 6, 'heat'),
      ];
      await commitEach(store, 'ns/a', kinds);
      await commitEach(store, 'ns/b', [reported('setpoint', H0 + 7, 99)]);
      const all: Array<{ property: string; kind: HistoryKind }> = ['setpoint', 'mode'].flatMap((property) => (['reported', 'desired', 'ack'] as const).map((kind) => ({ property, kind })));
      const got = await query(store, { series: all });
      expect(got).toEqual([
        { property: 'setpoint', kind: 'reported', t: [H0 + 5], value: [21.5] },
        { property: 'setpoint', kind: 'desired', t: [H0 + 5], value: [22] },
        { property: 'setpoint', kind: 'ack', t: [H0 + 5, H0 + 5], value: ['pending', 'failed:EDGETWIN_ERR_MAPPER_TIMEOUT'] },
        { property: 'mode', kind: 'reported', t: [H0 + 6], value: ['heat'] },
      ]);
      // The same after the store has moved recent entries to where it keeps them (if it does),
      // and with one more entry in the same ms arriving afterwards.
      await store.maintainHistory();
      expect(await query(store, { series: all })).toEqual(got);
      await commitEach(store, 'ns/a', [{ property: 'setpoint', kind: 'ack', timestamp: H0 + 5, value: 'applied' }]);
      await store.maintainHistory();
      const [, , ack] = await query(store, { series: all });
      expect(ack).toEqual({ property: 'setpoint', kind: 'ack', t: [H0 + 5, H0 + 5, H0 + 5], value: ['pending', 'failed:EDGETWIN_ERR_MAPPER_TIMEOUT', 'applied'] });
    });

    it('answers [since, until) only, across hours; an unknown series has no entry in the answer', async () => {
      const store = await open();
      const entries = [H0 - 1, H0, H0 + HOUR - 1, H0 + HOUR, H0 + 3 * HOUR + 7].map((t, i) => reported('temperature', t, i));
      await commitEach(store, 'ns/a', entries);
      const [series] = await query(store, { series: [...temperature, { property: 'nope', kind: 'reported' }], since: H0, until: H0 + 3 * HOUR + 7 });
      expect(series).toEqual({ property: 'temperature', kind: 'reported', t: [H0, H0 + HOUR - 1, H0 + HOUR], value: [1, 2, 3] });
      expect(await query(store, { series: temperature, since: H0 + 5 * HOUR, until: H0 + 6 * HOUR })).toEqual([
        { property: 'temperature', kind: 'reported', t: [], value: [] },
      ]);
    });

    it('aggregates by step into epoch-aligned buckets: count, min, max, mean, last', async () => {
      const store = await open();
      // 10 s step: [H0, H0+10s) holds 1, 5, 3; [H0+20s, H0+30s) holds 7; text buckets have no min/max/mean.
      await commitEach(store, 'ns/a', [
        reported('temperature', H0 + 1000, 1), reported('temperature', H0 + 2000, 5), reported('temperature', H0 + 9999, 3),
        reported('temperature', H0 + 25_000, 7), reported('mode', H0 + 1000, 'off'), reported('mode', H0 + 3000, 'heat'),
      ]);
      const got = await query(store, { series: [...temperature, { property: 'mode', kind: 'reported' }], since: H0, until: H0 + 60_000, stepMs: 10_000 });
      expect(got).toEqual([
        { property: 'temperature', kind: 'reported', t: [H0, H0 + 20_000], count: [3, 1], min: [1, 7], max: [5, 7], mean: [3, 7], last: [3, 7] },
        { property: 'mode', kind: 'reported', t: [H0], count: [2], min: [null], max: [null], mean: [null], last: ['heat'] },
      ]);
    });

    it('refuses a query over maxPoints with EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS, naming a step that fits', async () => {
      const store = await open();
      await commitEach(store, 'ns/a', Array.from({ length: 30 }, (_, i) => reported('temperature', H0 + i * 1000, i)));
      const over = await query(store, { series: temperature, maxPoints: 29 }).catch((err: unknown) => err);
      expect(over).toMatchObject({ code: 'EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS' });
      expect((over as Error).message).toMatch(/would return 30 points \(limit 29\): use a step of \S+ or more/);
      await expect(query(store, { series: temperature, maxPoints: 30 })).resolves.toHaveLength(1);
      // With a step the bound is the number of buckets the range touches.
      const bounded = await query(store, { series: temperature, since: H0, until: H0 + HOUR, stepMs: 1000, maxPoints: 1000 }).catch((err: unknown) => err);
      expect(bounded).toMatchObject({ code: 'EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS' });
      expect((bounded as Error).message).toContain('up to 3,600 points (limit 1,000): use a step of 5s or more (step=5s, --step 5s)');
    });

    it('drops whole hours older than maxAge, and only those', async () => {
      const store = await open(policy({ maxAgeMs: 2 * DAY }));
      await commitEach(store, 'ns/a', [0, 1, 2, 3].map((d) => reported('temperature', H0 + d * DAY, d)));
      now = H0 + 3 * DAY + 1000;
      const report = await store.maintainHistory();
      expect(report.expired).toBe(1);
      const [series] = await query(store, { series: temperature });
      expect(series).toMatchObject({ t: [H0 + DAY, H0 + 2 * DAY, H0 + 3 * DAY], value: [1, 2, 3] });
      expect((await store.historyStats()).oldest).toBe(H0 + DAY);
    });

    it('a device or model override keeps more or less than the default', async () => {
      const store = await open(policy({ maxAgeMs: 2 * DAY, devices: { 'ns/long': { maxAgeMs: 10 * DAY } }, models: { meter: { maxAgeMs: DAY } } }));
      await store.commit([{ kind: 'member', entry: { id: 'ns/short', namespace: 'ns', name: 'short', model: 'meter', origin: 'manifest' } }]);
      for (const id of ['ns/a', 'ns/long', 'ns/short']) await commitEach(store, id, [0, 1, 2, 3, 4].map((d) => reported('temperature', H0 + d * DAY, d)));
      now = H0 + 4 * DAY + 1000;
      await store.maintainHistory();
      const days = async (device: string): Promise<unknown> => (await store.queryHistory({ device, series: temperature, since: 0, until: H0 + 30 * DAY, maxPoints: 100 }))[0]?.t.map((t) => (t - H0) / DAY);
      expect(await days('ns/a')).toEqual([2, 3, 4]);
      expect(await days('ns/long')).toEqual([0, 1, 2, 3, 4]);
      expect(await days('ns/short')).toEqual([3, 4]);
    });

    it('keeps the history under maxBytes by dropping the oldest hours first (the newest always stays)', async () => {
      const store = await open();
      const perHour = 200;
      for (let h = 0; h < 6; h++) {
        await commitEach(store, 'ns/a', Array.from({ length: perHour }, (_, i) => reported('temperature', H0 + h * HOUR + i * 10, h)));
      }
      const before = await store.historyStats();
      const hourBytes = before.tiers.raw.bytes / 6;
      expect(before.tiers.raw.rows).toBe(6 * perHour);
      await store.close();
      const capped = await open(policy({ maxBytes: Math.floor(2.5 * hourBytes) }));
      const report = await capped.maintainHistory();
      expect(report.evicted).toBe(4 * perHour);
      const after = await capped.historyStats();
      expect(after.tiers.raw.bytes).toBeLessThanOrEqual(2.5 * hourBytes);
      expect(after.oldest).toBe(H0 + 4 * HOUR);
      const [series] = await query(capped, { series: temperature, stepMs: HOUR });
      expect(series).toMatchObject({ t: [H0 + 4 * HOUR, H0 + 5 * HOUR], count: [perHour, perHour], last: [4, 5] });
      await capped.close();
      // A limit below one hour's worth keeps the newest hour all the same.
      const tiny = await open(policy({ maxBytes: 1 }));
      await tiny.maintainHistory();
      expect((await tiny.historyStats()).tiers.raw.rows).toBe(perHour);
    });

    it("a device's own maxBytes trims that device only", async () => {
      const store = await open(policy({ devices: { 'ns/small': { maxBytes: 1 } } }));
      for (const id of ['ns/a', 'ns/small']) await commitEach(store, id, [0, 1, 2].map((h) => reported('temperature', H0 + h * HOUR, h)));
      const report = await store.maintainHistory();
      expect(report.evicted).toBe(2);
      const hours = async (device: string): Promise<unknown> => (await store.queryHistory({ device, series: temperature, since: 0, until: H0 + DAY, maxPoints: 100 }))[0]?.t.map((t) => (t - H0) / HOUR);
      expect(await hours('ns/a')).toEqual([0, 1, 2]);
      expect(await hours('ns/small')).toEqual([2]);
    });

    it('downsamples old raw entries to 1-minute buckets, then to 1-hour buckets, with the same aggregates', async () => {
      const store = await open(policy({ maxAgeMs: 30 * DAY, minuteBucketsAfterMs: DAY, hourBucketsAfterMs: 3 * DAY }));
      // 2 hours at one entry per 5 s (1,440 entries), a numeric and a text series.
      const entries: HistoryEntry[] = [];
      for (let i = 0; i < 1440; i++) {
        entries.push(reported('temperature', H0 + i * 5000, Math.round(20 + 5 * Math.sin(i / 30)) + (i % 3) / 4));
        if (i % 100 === 0) entries.push(reported('mode', H0 + i * 5000, i % 200 === 0 ? 'heat' : 'off'));
      }
      await commitEach(store, 'ns/a', entries);
      const series: HistoryQuery['series'] = [...temperature, { property: 'mode', kind: 'reported' }];
      const byMinute = await query(store, { series, stepMs: 60_000 });
      const byHour = await query(store, { series, stepMs: HOUR });

      now = H0 + DAY + 2 * HOUR;
      const first = await store.maintainHistory();
      expect(first.downsampled).toBe(entries.length);
      const stats = await store.historyStats();
      expect(stats.tiers.raw.rows).toBe(0);
      expect(stats.tiers.minute.rows).toBe(120 + 15);
      expect(roughly(await query(store, { series, stepMs: 60_000 }))).toEqual(roughly(byMinute));
      // Without a step, a bucket is one point: its last value at its time.
      const [points] = await query(store, { series: temperature });
      expect(points?.t).toHaveLength(120);
      expect((points as HistoryPoints).value[0]).toBe((byMinute[0] as HistoryBuckets).last[0]);
      expect(points?.t[0]).toBe(H0 + 55_000);

      now = H0 + 3 * DAY + 2 * HOUR;
      const second = await store.maintainHistory();
      expect(second.downsampled).toBe(120 + 15);
      expect((await store.historyStats()).tiers).toMatchObject({ raw: { rows: 0 }, minute: { rows: 0 }, hour: { rows: 4 } });
      expect(roughly(await query(store, { series, stepMs: HOUR }))).toEqual(roughly(byHour));
    });
  });
}

/** Means may differ in the last bits once sums are re-associated by downsampling. */
function roughly(series: Array<HistoryPoints | HistoryBuckets>): Array<HistoryPoints | HistoryBuckets> {
  return series.map((s) => ('mean' in s ? { ...s, mean: s.mean.map((m) => (m === null ? null : Number(m.toPrecision(12)))) } : s));
}
