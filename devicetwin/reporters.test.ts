import { describe, expect, it } from 'vitest';
import { ReporterWatch } from './reporters.js';

describe('ReporterWatch', () => {
  it('sees two reporters whose reports interleave, once per window', () => {
    const w = new ReporterWatch(60_000);
    expect(w.note('d', 'a', 0)).toBeUndefined();
    expect(w.note('d', 'b', 500)).toBeUndefined(); // b's first: nothing of b to interleave with yet
    expect(w.note('d', 'a', 1000)).toEqual({ reporter: 'a', others: ['b'] });
    expect(w.note('d', 'b', 1500)).toBeUndefined(); // still the same episode
    expect(w.note('d', 'a', 30_000)).toBeUndefined();
    const seen: number[] = [];
    for (let t = 31_000; t <= 130_000; t += 1000) if (w.note('d', t % 2000 === 0 ? 'a' : 'b', t)) seen.push(t);
    expect(seen).toEqual([61_000, 121_000]); // one per window while they keep interleaving
  });

  it('does not take a mapper that reconnected under a new client id for a second one', () => {
    const w = new ReporterWatch(60_000);
    for (let t = 0; t < 5000; t += 1000) expect(w.note('d', 'mapper-1', t)).toBeUndefined();
    for (let t = 5000; t < 20_000; t += 1000) expect(w.note('d', 'mapper-2', t)).toBeUndefined();
  });

  it('does not join reports a window apart, nor reports of different devices', () => {
    const w = new ReporterWatch(1000);
    w.note('d', 'a', 0);
    w.note('d', 'b', 500);
    expect(w.note('d', 'a', 5000)).toBeUndefined();
    w.note('x', 'a', 6000);
    w.note('y', 'b', 6100);
    expect(w.note('x', 'a', 6200)).toBeUndefined();
  });

  it('forgets an unbound device', () => {
    const w = new ReporterWatch(60_000);
    w.note('d', 'a', 0);
    w.note('d', 'b', 1);
    w.forget('d');
    expect(w.note('d', 'a', 2)).toBeUndefined();
  });
});
