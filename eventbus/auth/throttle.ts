// Password checks that a flood of bad CONNECTs cannot turn against other clients. scrypt is
// deliberately expensive (password.ts: ~160 ms and 16 MiB each) and node:crypto runs it on
// libuv's pool of 4 threads, shared with fs and DNS. Before this, every check queued first come,
// first served: 30 bad CONNECTs in parallel delayed every login behind them by ~9 s. Now:
//
// - At most MAX_CONCURRENT checks run at once, and at most one of them for a client under
//   suspicion (one whose peer address or user name failed recently), so a flood holds at most
//   one thread and a clean login always finds a free one.
// - Waiting checks are started by suspicion, least first (failures of the peer + of the user
//   name), then in arrival order: a first attempt is never queued behind a guesser's.
// - A failed check is answered only after a delay that doubles with each consecutive failure of
//   its peer or its user name (BASE_MS → MAX_MS, ±20 % jitter), without holding a thread; a
//   guesser that waits for answers gets one guess per delay. A success is answered at once and
//   resets its peer and user name. The right password is never refused for being late: it is
//   checked like any other, so a user whose name is being guessed still gets in.
//
// Failures are kept per key for FORGET_MS after the last one, for at most MAX_KEYS keys (the
// oldest go first), so random user names cannot grow memory without bound.

export interface LoginThrottleOptions {
  /** Delay before the first refusal (ms). */
  readonly baseMs?: number;
  /** Cap of the delay (ms). */
  readonly maxMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface Verdict {
  readonly ok: boolean;
  /** How long the refusal was held back (0 for a success). */
  readonly delayedMs: number;
  /** Consecutive failures of the peer or the user name, whichever is more, this one included. */
  readonly failures: number;
}

const MAX_CONCURRENT = 2;
const MAX_SUSPECT_CONCURRENT = 1;
const BASE_MS = 250;
const MAX_MS = 10_000;
const JITTER = 0.2;
const FORGET_MS = 15 * 60_000;
const MAX_KEYS = 10_000;

interface Failures {
  count: number;
  last: number;
}

interface Waiter {
  readonly peer: string;
  readonly user: string;
  readonly seq: number;
  readonly start: () => void;
}

export class LoginThrottle {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly failures = new Map<string, Failures>();
  private readonly waiting: Waiter[] = [];
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private active = 0;
  private activeSuspects = 0;
  private seq = 0;
  private closed = false;
  /** Failed checks whose refusal was delayed (all of them but those cut short by close()). */
  backoffs = 0;

  constructor(options: LoginThrottleOptions = {}) {
    this.baseMs = options.baseMs ?? BASE_MS;
    this.maxMs = options.maxMs ?? MAX_MS;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /**
   * Runs `check` (true = the password matched) when its turn comes, and resolves with the
   * verdict: a success at once, a failure after its backoff delay.
   */
  async run(peer: string | undefined, user: string, check: () => Promise<boolean>): Promise<Verdict> {
    const peerKey = `p:${peer ?? '?'}`;
    const userKey = `u:${user}`;
    const suspect = await this.turn(peerKey, userKey);
    let ok = false;
    try {
      ok = await check();
    } finally {
      this.active--;
      if (suspect) this.activeSuspects--;
      this.next();
    }
    if (ok) {
      this.failures.delete(peerKey);
      this.failures.delete(userKey);
      return { ok, delayedMs: 0, failures: 0 };
    }
    const failures = Math.max(this.fail(peerKey), this.fail(userKey));
    const delayedMs = this.delayFor(failures);
    this.backoffs++;
    await this.sleep(delayedMs);
    return { ok, delayedMs, failures };
  }

  /** Answers every held-back refusal now and starts every waiting check (shutdown). */
  close(): void {
    this.closed = true;
    for (const [timer, release] of this.timers) {
      clearTimeout(timer);
      release();
    }
    this.timers.clear();
    for (const w of this.waiting.splice(0)) w.start();
  }

  /** Recent consecutive failures of a key (0 once forgotten). */
  private count(key: string): number {
    const f = this.failures.get(key);
    if (!f) return 0;
    if (this.now() - f.last > FORGET_MS) {
      this.failures.delete(key);
      return 0;
    }
    return f.count;
  }

  private fail(key: string): number {
    const count = this.count(key) + 1;
    // Re-inserted so the Map's order is least recently failed first, the eviction order.
    this.failures.delete(key);
    this.failures.set(key, { count, last: this.now() });
    if (this.failures.size > MAX_KEYS) {
      const oldest = this.failures.keys().next();
      if (!oldest.done) this.failures.delete(oldest.value);
    }
    return count;
  }

  private suspicion(peer: string, user: string): number {
    return this.count(peer) + this.count(user);
  }

  private delayFor(failures: number): number {
    const base = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(failures - 1, 30));
    return Math.max(0, Math.min(this.maxMs, Math.round(base * (1 + JITTER * (2 * this.random() - 1)))));
  }

  /** Resolves when this check may start; true if it runs as a suspect. */
  private turn(peer: string, user: string): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting.push({ peer, user, seq: this.seq++, start: () => resolve(this.suspicion(peer, user) > 0) });
      this.next();
    });
  }

  /** Starts waiting checks while there is room: least suspicion first, then arrival order. */
  private next(): void {
    while (this.waiting.length > 0 && (this.active < MAX_CONCURRENT || this.closed)) {
      let best = -1;
      let bestScore = Infinity;
      for (let i = 0; i < this.waiting.length; i++) {
        const w = this.waiting[i]!;
        const score = this.suspicion(w.peer, w.user);
        if (score > 0 && this.activeSuspects >= MAX_SUSPECT_CONCURRENT && !this.closed) continue;
        if (score < bestScore || (score === bestScore && w.seq < this.waiting[best]!.seq)) {
          best = i;
          bestScore = score;
        }
      }
      if (best < 0) return;
      const [w] = this.waiting.splice(best, 1);
      this.active++;
      if (bestScore > 0) this.activeSuspects++;
      w!.start();
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }
}
