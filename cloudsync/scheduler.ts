// When each device's pending work is written: at most once per device per reportCycle (after a
// short batching window, so readings that arrive together go out together), oldest pending
// device first, a few at a time. While the API server is unreachable nothing is sent; after a
// backoff delay (1 s → 30 s, jittered) the oldest device probes, and on success all drain.

import type { Logger } from 'pino';
import { Backoff, type BackoffOptions, type Clock } from './timing.js';

/** What one device's write came to. */
export type Outcome =
  | 'done'
  /** The server could not be reached: keep the work, go offline. */
  | 'unreachable'
  /** Rejected for good (e.g. 422): the work is dropped, the problem recorded by the worker. */
  | 'failed'
  /** Could not finish now (conflicts kept coming): try again next cycle. */
  | 'retry';

export interface SchedulerHealth {
  readonly state: 'idle' | 'sending' | 'offline' | 'stopped';
  /** Devices with work not yet written. */
  readonly pending: number;
  readonly writes: number;
  readonly lastSuccessAt?: number;
}

export interface SchedulerOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly work: (id: string) => Promise<Outcome>;
  /** Writes in flight at once (the rate limiter still spaces the calls). */
  readonly concurrency?: number;
  /** How long a first change waits for others of the same device (ms). */
  readonly batchWindow?: number;
  readonly backoff?: BackoffOptions;
  readonly onHealth?: (h: SchedulerHealth) => void;
}

interface Pending {
  /** Older work first: the sequence number of the device's oldest pending change. */
  priority: number;
  /** Bumped by every mark(); a write clears the entry only if nothing was marked meanwhile. */
  gen: number;
  due: number;
  cycle: number;
}

export class Scheduler {
  private readonly pending = new Map<string, Pending>();
  private readonly lastWrite = new Map<string, number>();
  private readonly inflight = new Set<string>();
  private readonly backoff: Backoff;
  private readonly stopping = new AbortController();
  private wakeup = new AbortController();
  private loop?: Promise<void>;
  private offline = false;
  private writes = 0;
  private lastSuccessAt?: number;
  private stateName: SchedulerHealth['state'] = 'idle';

  constructor(private readonly opts: SchedulerOptions) {
    this.backoff = new Backoff(opts.backoff);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.wakeup.abort();
    await this.loop;
    this.stateName = 'stopped';
  }

  /** The device has work; `priority` is the sequence of its oldest pending change. */
  mark(id: string, priority: number, cycle: number): void {
    const now = this.opts.clock.now();
    const last = this.lastWrite.get(id);
    const due = Math.max(now + (this.opts.batchWindow ?? 25), last !== undefined ? last + cycle : 0);
    const p = this.pending.get(id);
    if (p) {
      p.gen++;
      p.priority = Math.min(p.priority, priority);
      p.cycle = cycle;
      return;
    }
    this.pending.set(id, { priority, gen: 0, due, cycle });
    this.wakeup.abort();
  }

  forget(id: string): void {
    this.pending.delete(id);
    this.lastWrite.delete(id);
  }

  /** Something else reached the server (a watch reopened): probe now instead of after the backoff. */
  reachable(): void {
    if (!this.offline) return;
    this.backoff.reset();
    this.wakeup.abort();
  }

  health(): SchedulerHealth {
    return { state: this.stateName, pending: this.pending.size, writes: this.writes, ...(this.lastSuccessAt !== undefined ? { lastSuccessAt: this.lastSuccessAt } : {}) };
  }

  private setState(state: SchedulerHealth['state']): void {
    if (state === this.stateName) return;
    this.stateName = state;
    this.opts.onHealth?.(this.health());
  }

  private async sleep(ms: number): Promise<void> {
    if (this.wakeup.signal.aborted) this.wakeup = new AbortController();
    await this.opts.clock.delay(ms, AbortSignal.any([this.wakeup.signal, this.stopping.signal]));
  }

  /** Pending devices, oldest first; `all` ignores due times (a probe or a drain after reconnect). */
  private ordered(now: number, all: boolean): string[] {
    const ids: Array<[string, Pending]> = [];
    for (const e of this.pending) if (!this.inflight.has(e[0]) && (all || e[1].due <= now)) ids.push(e);
    ids.sort((a, b) => a[1].priority - b[1].priority);
    return ids.map(([id]) => id);
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      if (this.offline) {
        this.setState('offline');
        this.wakeup = new AbortController();
        await this.sleep(this.backoff.next());
        if (this.stopping.signal.aborted) break;
        const oldest = this.ordered(Infinity, true)[0];
        if (oldest === undefined) {
          this.offline = false;
          continue;
        }
        if ((await this.send(oldest)) !== 'unreachable') {
          this.offline = false;
          this.backoff.reset();
          this.opts.logger.info({ pending: this.pending.size }, 'cloud sync: API server reachable again, draining the outbox');
        }
        continue;
      }
      const now = this.opts.clock.now();
      const due = this.ordered(now, false);
      if (due.length === 0) {
        this.setState('idle');
        let next = Infinity;
        for (const p of this.pending.values()) next = Math.min(next, p.due);
        this.wakeup = new AbortController();
        await this.sleep(next === Infinity ? 60_000 : Math.max(0, next - now));
        continue;
      }
      this.setState('sending');
      await this.drain(due);
    }
  }

  /** Sends `ids` in order with bounded concurrency; stops early if the server goes away. */
  private async drain(ids: string[]): Promise<void> {
    let i = 0;
    const worker = async (): Promise<void> => {
      while (i < ids.length && !this.offline && !this.stopping.signal.aborted) {
        const id = ids[i++]!;
        if ((await this.send(id)) === 'unreachable') this.offline = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 8, ids.length) }, worker));
  }

  private async send(id: string): Promise<Outcome> {
    const p = this.pending.get(id);
    if (!p) return 'done';
    const gen = p.gen;
    this.inflight.add(id);
    let outcome: Outcome;
    try {
      outcome = await this.opts.work(id);
    } catch (err) {
      this.opts.logger.error({ err, device: id }, 'cloud sync: status write threw');
      outcome = 'retry';
    } finally {
      this.inflight.delete(id);
    }
    const now = this.opts.clock.now();
    if (outcome === 'unreachable') return outcome;
    this.lastWrite.set(id, now);
    const current = this.pending.get(id);
    if (!current) return outcome;
    if (outcome !== 'retry' && current.gen === gen) this.pending.delete(id);
    else current.due = now + current.cycle;
    if (outcome === 'done') {
      this.writes++;
      this.lastSuccessAt = now;
    }
    return outcome;
  }
}
