import { describe, expect, it } from 'vitest';
import type { RegisterTable } from './codec.js';
import { MODBUS_LIMITS, planReads, splitRead, type PlanItem, type PlannedRead } from './planner.js';

type Item = PlanItem<string>;
const item = (offset: number, count = 1, table: RegisterTable = 'HoldingRegister', unit = 1): Item => ({
  unit,
  table,
  offset,
  count,
  ref: `${unit}/${table}/${offset}`,
});

/** mulberry32: a tiny seeded PRNG so the layouts are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The fewest requests the protocol allows, computed independently of the planner: per unit and
 * table, cover the sorted intervals with windows of the maximum size, ignoring gaps entirely.
 */
function minimumRequests(items: readonly Item[]): number {
  const groups = new Map<string, Item[]>();
  for (const it of items) groups.set(`${it.unit}/${it.table}`, [...(groups.get(`${it.unit}/${it.table}`) ?? []), it]);
  let total = 0;
  for (const group of groups.values()) {
    const bits = group[0]!.table === 'CoilRegister' || group[0]!.table === 'DiscreteInputRegister';
    const max = bits ? MODBUS_LIMITS.readBits : MODBUS_LIMITS.readRegisters;
    group.sort((a, b) => a.offset - b.offset);
    let windowStart = -Infinity;
    for (const it of group) {
      if (it.offset + it.count - windowStart > max) {
        total++;
        windowStart = it.offset;
      }
    }
  }
  return total;
}

/** Checks that every item is served by exactly one request, at the right place, within limits. */
function expectValidPlan(items: readonly Item[], plan: readonly PlannedRead<string>[], maxGap = 8): void {
  const served = plan.flatMap((r) => r.items.map((it) => it.ref));
  expect(served.sort()).toEqual(items.map((it) => it.ref).sort());
  const byRef = new Map(items.map((it) => [it.ref, it]));
  for (const read of plan) {
    const bits = read.table === 'CoilRegister' || read.table === 'DiscreteInputRegister';
    expect(read.count).toBeLessThanOrEqual(bits ? MODBUS_LIMITS.readBits : MODBUS_LIMITS.readRegisters);
    for (const planned of read.items) {
      const original = byRef.get(planned.ref)!;
      expect([original.unit, original.table]).toEqual([read.unit, read.table]);
      expect(read.start + planned.index).toBe(original.offset);
      expect(planned.index + planned.count).toBeLessThanOrEqual(read.count);
    }
    // No stretch of unused registers longer than the gap allows.
    const covered = new Array<boolean>(read.count).fill(false);
    for (const p of read.items) for (let i = p.index; i < p.index + p.count; i++) covered[i] = true;
    const longestHole = Math.max(0, ...covered.join('').split('true').map((s) => s.length / 5));
    expect(longestHole).toBeLessThanOrEqual(bits ? maxGap * 16 : maxGap);
  }
}

/** 200 properties over 10 units, in every table, with small random gaps, in random order. */
function fieldLayout(seed: number, maxHole: number): Item[] {
  const random = rng(seed);
  const items: Item[] = [];
  const tables: [RegisterTable, number][] = [['HoldingRegister', 10], ['InputRegister', 5], ['CoilRegister', 3], ['DiscreteInputRegister', 2]];
  for (let unit = 1; unit <= 10; unit++) {
    for (const [table, n] of tables) {
      let offset = Math.floor(random() * 100);
      for (let i = 0; i < n; i++) {
        const count = table === 'HoldingRegister' || table === 'InputRegister' ? [1, 2, 2, 4][Math.floor(random() * 4)]! : 1;
        items.push(item(offset, count, table, unit));
        offset += count + Math.floor(random() * (maxHole + 1));
      }
    }
  }
  return items.sort(() => random() - 0.5);
}

describe('planReads', () => {
  it('200 properties over 10 units: within 10% of the minimum request count', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const items = fieldLayout(seed, 4);
      expect(items).toHaveLength(200);
      const plan = planReads(items);
      expectValidPlan(items, plan);
      const minimum = minimumRequests(items);
      expect(minimum).toBe(40); // one request per unit and table
      expect(plan.length).toBeLessThanOrEqual(Math.ceil(minimum * 1.1));
    }
  });

  it('with no gap limit the plan reaches the protocol minimum exactly', () => {
    for (const seed of [6, 7, 8]) {
      const items = fieldLayout(seed, 40);
      expect(planReads(items, { maxGap: 125, maxBitGap: 2000 })).toHaveLength(minimumRequests(items));
    }
  });

  it('merges across a gap of up to maxGap unused registers, not more', () => {
    expect(planReads([item(0), item(9)])).toEqual([
      { unit: 1, table: 'HoldingRegister', start: 0, count: 10, items: [{ ref: '1/HoldingRegister/0', index: 0, count: 1 }, { ref: '1/HoldingRegister/9', index: 9, count: 1 }] },
    ]);
    expect(planReads([item(0), item(10)])).toHaveLength(2);
    expect(planReads([item(0), item(4)], { maxGap: 0 })).toHaveLength(2);
    expect(planReads([item(0, 2), item(2, 2)], { maxGap: 0 })).toHaveLength(1);
    // Coils: the default bit gap is 16 × 8 bits, the same bytes on the wire as 8 registers.
    expect(planReads([item(0, 1, 'CoilRegister'), item(129, 1, 'CoilRegister')])).toHaveLength(1);
    expect(planReads([item(0, 1, 'CoilRegister'), item(130, 1, 'CoilRegister')])).toHaveLength(2);
  });

  it('never exceeds the maximum request size (125 registers, 2000 bits, or the configured one)', () => {
    const registers = Array.from({ length: 130 }, (_, i) => item(i));
    expect(planReads(registers).map((r) => r.count)).toEqual([125, 5]);
    expect(planReads(registers, { maxRegisters: 10 })).toHaveLength(13);
    expect(planReads(registers, { maxRegisters: 500 }).map((r) => r.count)).toEqual([125, 5]);
    const coils = Array.from({ length: 2100 }, (_, i) => item(i, 1, 'CoilRegister'));
    expect(planReads(coils).map((r) => r.count)).toEqual([2000, 100]);
    // A 4-register value never straddles two requests.
    const floats = Array.from({ length: 40 }, (_, i) => item(i * 4, 4));
    const plan = planReads(floats);
    expect(plan.map((r) => r.count)).toEqual([124, 36]);
    expectValidPlan(floats, plan);
  });

  it('keeps tables and units apart', () => {
    const items = [item(0), item(0, 1, 'InputRegister'), item(0, 1, 'CoilRegister'), item(0, 1, 'DiscreteInputRegister'), item(1, 1, 'HoldingRegister', 2)];
    const plan = planReads(items);
    expect(plan).toHaveLength(5);
    expectValidPlan(items, plan);
  });

  it('serves overlapping and duplicate items from one read', () => {
    const items = [item(0, 4), { ...item(2, 2), ref: 'low half' }, { ...item(0, 4), ref: 'again' }];
    const [read, ...rest] = planReads(items);
    expect(rest).toEqual([]);
    expect(read!.count).toBe(4);
    expect(read!.items.find((it) => it.ref === 'low half')?.index).toBe(2);
  });
});

describe('splitRead', () => {
  it('halves the items into two tight requests; a single item cannot be split', () => {
    const [read] = planReads([item(0), item(3), item(6, 2), item(9)]);
    const halves = splitRead(read!);
    expect(halves.map((r) => [r.start, r.count, r.items.length])).toEqual([[0, 4, 2], [6, 4, 2]]);
    expect(splitRead(halves[0]!)).toHaveLength(2);
    expect(splitRead(splitRead(halves[0]!)[0]!)).toEqual([]);
  });

  it('isolates one bad register among 100 in about 2·log2(n) extra requests', () => {
    const items = Array.from({ length: 100 }, (_, i) => item(i * 2, 2));
    const bad = 77; // a hole inside the item at 76
    const queue = planReads(items);
    const ok: string[] = [];
    const failed: string[] = [];
    let requests = 0;
    for (let read = queue.shift(); read; read = queue.shift()) {
      requests++;
      const hit = read.start <= bad && bad < read.start + read.count;
      if (!hit) ok.push(...read.items.map((it) => it.ref));
      else if (read.items.length > 1) queue.unshift(...splitRead(read));
      else failed.push(read.items[0]!.ref);
    }
    expect(failed).toEqual(['1/HoldingRegister/76']);
    expect(ok).toHaveLength(99);
    expect(requests).toBeLessThanOrEqual(2 + 2 * Math.ceil(Math.log2(100)));
  });
});
