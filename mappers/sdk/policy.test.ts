import { describe, expect, it } from 'vitest';
import { backoffMs, cycleMs, sameReading, shouldReport } from './policy.js';

describe('runtime policy', () => {
  it.each([
    [undefined, 1000],
    [0, 1000],
    [-5, 1000],
    [250, 250],
  ])('cycleMs(%s) = %i (KubeEdge: ms, 0 means 1 s)', (v, ms) => expect(cycleMs(v)).toBe(ms));

  it('backs off exponentially up to the cap, with jitter below the nominal delay', () => {
    const opts = { baseMs: 100, maxMs: 1000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffMs(n, opts, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffMs(3, opts, () => 1)).toBe(200);
    for (let i = 0; i < 100; i++) {
      const d = backoffMs(2, opts);
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(200);
    }
  });

  it.each<[string, Parameters<typeof shouldReport>, boolean]>([
    ['the first reading', [undefined, '1', 0, 1000], true],
    ['an unchanged reading within the cycle', [{ wire: '1', at: 0 }, '1', 500, 1000], false],
    ['an unchanged reading once the cycle is due', [{ wire: '1', at: 0 }, '1', 1000, 1000], true],
    ['a change', [{ wire: '1', at: 0 }, '2', 10, 1000], true],
    ['a change inside the deadband', [{ wire: '20.0', at: 0 }, '20.3', 10, 1000, 0.5], false],
    ['a change beyond the deadband', [{ wire: '20.0', at: 0 }, '20.6', 10, 1000, 0.5], true],
    ['a non-numeric change with a deadband', [{ wire: 'off', at: 0 }, 'heat', 10, 1000, 0.5], true],
  ])('reports %s: %s', (_label, args, expected) => expect(shouldReport(...args)).toBe(expected));

  it.each<[Parameters<typeof sameReading>, boolean]>([
    [['float', '21.1', '21.100000381469727'], true],
    [['float', '21.1', '21.2'], false],
    [['int', '21', '21'], true],
    [['int', '21', '22'], false],
    [['string', 'heat', 'heat'], true],
    [['boolean', 'true', 'false'], false],
  ])('sameReading(%j) = %s', (args, expected) => expect(sameReading(...args)).toBe(expected));
});
