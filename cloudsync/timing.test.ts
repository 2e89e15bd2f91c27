import { describe, expect, it } from 'vitest';
import { Backoff, TokenBucket, type Clock } from './timing.js';

/** A manual clock: delay() advances time at once, so waits cost nothing and are recorded. */
function manualClock(): Clock & { waits: number[] } {
  let t = 0;
  const waits: number[] = [];
  return { waits, now: () => t, delay: (ms) => { waits.push(ms); t += ms; return Promise.resolve(); } };
}

describe('Backoff', () => {
  it('doubles from 1 s to a 30 s cap, and reset() starts over', () => {
    const b = new Backoff({ jitter: 0 });
    expect(Array.from({ length: 8 }, () => b.next())).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    b.reset();
    expect(b.next()).toBe(1000);
  });

  it('jitters each delay by ±20 % and never past the cap', () => {
    const lo = new Backoff({ random: () => 0 });
    const hi = new Backoff({ random: () => 0.999999 });
    expect([lo.next(), lo.next()]).toEqual([800, 1600]);
    expect([hi.next(), hi.next()]).toEqual([1200, 2400]);
    for (let i = 0; i < 10; i++) expect(hi.next()).toBeLessThanOrEqual(30_000);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through at once, then spaces calls at qps', async () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10, 3, clock);
    for (let i = 0; i < 3; i++) await bucket.take();
    expect(clock.now()).toBe(0);
    for (let i = 0; i < 5; i++) await bucket.take();
    expect(clock.now()).toBe(500); // 5 more at 10 per second
  });

  it('stop() releases waiters', async () => {
    const clock: Clock = { now: () => 0, delay: (_ms, signal) => new Promise((resolve) => signal?.addEventListener('abort', () => resolve())) };
    const bucket = new TokenBucket(1, 1, clock);
    await bucket.take();
    const waiting = bucket.take();
    bucket.stop();
    await expect(waiting).resolves.toBeUndefined();
  });
});
