// Time as cloud sync sees it: an injectable clock (so tests never sleep through a 30 s backoff),
// exponential backoff with jitter, and the client-side token bucket that caps API calls.

import type { Clock } from '../clock.js';

export { systemClock, type Clock } from '../clock.js';

export interface BackoffOptions {
  /** First delay (ms); client-go's ListWatch and STYLE.md: 1 s. */
  readonly initial?: number;
  /** Cap (ms): 30 s. */
  readonly max?: number;
  /** ± fraction of each delay drawn at random, so many edge nodes do not reconnect in step. */
  readonly jitter?: number;
  readonly random?: () => number;
}

/** 1 s, 2 s, 4 s … 30 s, each ±20 % (never above the cap); reset() after a success. */
export class Backoff {
  private attempt = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initial = opts.initial ?? 1000;
    this.max = opts.max ?? 30_000;
    this.jitter = opts.jitter ?? 0.2;
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt. */
  next(): number {
    const base = Math.min(this.max, this.initial * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const spread = base * this.jitter * (2 * this.random() - 1);
    return Math.max(0, Math.min(this.max, Math.round(base + spread)));
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * client-go's flowcontrol token bucket: `burst` calls at once, then `qps` per second. take()
 * resolves when a token is free; callers queue in order. stop() releases every waiter.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private tail: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  take(): Promise<void> {
    const turn = this.tail.then(() => this.acquire());
    this.tail = turn;
    return turn;
  }

  stop(): void {
    this.abort.abort();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
  }

  private async acquire(): Promise<void> {
    this.refill();
    while (this.tokens < 1 && !this.abort.signal.aborted) {
      await this.clock.delay(Math.ceil(((1 - this.tokens) / this.qps) * 1000), this.abort.signal);
      this.refill();
    }
    this.tokens -= 1;
  }
}
