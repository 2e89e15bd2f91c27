import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { accumulate, bucketCount, bucketStart, mergeInto, pointBucket, type Bucket } from './history-buckets.js';

const fold = (points: ReadonlyArray<readonly [number, number | string]>): Bucket | undefined => {
  const map = new Map<number, Bucket>();
  for (const [ts, v] of points) accumulate(map, 0, pointBucket(ts, v));
  return map.get(0);
};

describe('history buckets', () => {
  it('fold numbers into count, min, max, sum and the last value by time', () => {
    expect(fold([[10, 3], [30, 7], [20, -1]])).toEqual({ n: 3, min: -1, max: 7, sum: 9, last: 7, lastTs: 30 });
  });

  it('count text values but give them no min, max or sum', () => {
    expect(fold([[1, 'off'], [2, 'heat']])).toEqual({ n: 2, min: null, max: null, sum: null, last: 'heat', lastTs: 2 });
  });

  it('of two values at the same ms, the one folded later is last', () => {
    expect(fold([[5, 1], [5, 2]])?.last).toBe(2);
  });

  it('merging buckets of any split of the points equals folding them all (downsampling in steps)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 59_999 }), fc.integer({ min: -1000, max: 1000 })), { minLength: 1, maxLength: 50 }), fc.nat(), (raw, cut) => {
        // Points sorted by time, as a step reads them; one split at `cut`.
        const points = [...raw].sort((a, b) => a[0] - b[0]);
        const at = cut % points.length;
        const whole = fold(points)!;
        const left = fold(points.slice(0, at));
        const right = fold(points.slice(at));
        const merged = left === undefined ? right! : right === undefined ? left : mergeInto({ ...left }, right);
        expect(merged).toEqual(whole);
      }),
    );
  });

  it('align steps to the epoch and count the buckets a range touches', () => {
    expect(bucketStart(61_000, 60_000)).toBe(60_000);
    expect(bucketStart(-1, 60_000)).toBe(-60_000);
    expect(bucketCount(0, 60_000, 60_000)).toBe(1);
    expect(bucketCount(59_999, 60_001, 60_000)).toBe(2);
    expect(bucketCount(10, 10, 1000)).toBe(0);
    expect(bucketCount(0, 3_600_000, 1000)).toBe(3600);
  });
});
