import { describe, expect, it } from 'vitest';
import { BenchProgress } from './progress.js';

describe('BenchProgress', () => {
  it('prints one line per figure with elapsed time and an estimate scaled by the finished sections', () => {
    let t = 0;
    const lines: string[] = [];
    const p = new BenchProgress([{ id: 'a', estimateS: 100 }, { id: 'b', estimateS: 50 }], { now: () => t, write: (l) => lines.push(l) });
    p.startSection('a');
    t = 40_000;
    p.figure('raw aedes, run 1/5', '100 msg/s');
    // Plan only: 60 s left of a, 50 s of b.
    expect(p.leftS()).toBeCloseTo(110);
    expect(lines[0]).toBe('[a #1 · 40s elapsed · ~1m50s left] raw aedes, run 1/5: 100 msg/s');
    t = 200_000; // a took twice its guess: b's guess doubles too
    p.endSection();
    p.startSection('b');
    expect(p.leftS()).toBeCloseTo(100);
    t = 320_000;
    expect(p.leftS()).toBe(0);
    p.figure('done', 'x');
    expect(lines[1]).toBe('[b #2 · 5m20s elapsed · finishing] done: x');
  });
});
