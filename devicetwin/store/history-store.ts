// History inside the SQLite store: appends to the log in the group commit's transaction
// (history-write.ts), queries (history-read.ts), the log moved into its hours every second and
// maintenance every minute (history-maintain.ts), both paced so they never take more than a
// fifth of the event loop. sqlite.ts owns one.

import type { Database, Statement } from 'better-sqlite3';

import type { EdgetwinError } from '../../errors.js';
import { DEFAULT_HISTORY_POLICY } from '../history.js';
import type { HistoryMaintenanceReport, HistoryPolicy, HistoryQuery, HistorySeries, HistoryStats, HistoryTier, StoreChange } from '../types.js';
import { PART_MS, TIER_NAMES } from './history-buckets.js';
import { HistoryMaintainer } from './history-maintain.js';
import { HistoryReader } from './history-read.js';
import { HistoryWriter } from './history-write.js';

export interface SqliteHistoryOptions {
  readonly path: string;
  readonly logger: { warn(obj: object, msg: string): void };
  readonly policy?: HistoryPolicy | undefined;
  /** ms between maintenance runs; 0 or less: only on demand. */
  readonly intervalMs?: number | undefined;
  /** ms between moves of the log into history_raw (default 1000; 0 or less: only within maintenance). */
  readonly settleMs?: number | undefined;
  readonly clock?: (() => number) | undefined;
  readonly onMaintain?: ((report: HistoryMaintenanceReport, seconds: number) => void) | undefined;
  /** Turns a failure of a maintenance step into the store's coded error. */
  readonly failed: (err: unknown) => EdgetwinError;
}

const INTERVAL_MS = 60_000;
const SETTLE_MS = 1000;
/** After each step the run waits this many times the step's duration (≥ 1 ms): ≤ 1/5 of the loop. */
const PAUSE_FACTOR = 4;
const NOTHING: HistoryMaintenanceReport = { downsampled: 0, expired: 0, evicted: 0 };

export class SqliteHistory {
  readonly #o: SqliteHistoryOptions;
  readonly #policy: HistoryPolicy;
  readonly #clock: () => number;
  readonly #writer: HistoryWriter;
  readonly #reader: HistoryReader;
  readonly #maintainer: HistoryMaintainer;
  readonly #tiers: Statement<[], [tier: number, rows: number, bytes: number, oldest: number]>;
  /** The run in progress (maintenance or settle): one at a time, chained. */
  #running: Promise<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #settleTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(db: Database, options: SqliteHistoryOptions) {
    this.#o = options;
    this.#policy = options.policy ?? DEFAULT_HISTORY_POLICY;
    this.#clock = options.clock ?? Date.now;
    this.#writer = new HistoryWriter(db);
    this.#reader = new HistoryReader(db);
    this.#maintainer = new HistoryMaintainer(db);
    this.#tiers = db.prepare<[], [number, number, number, number]>('SELECT tier, sum(rows), sum(bytes), min(part) FROM history_parts GROUP BY tier').raw(true);
  }

  /** Starts the periodic maintenance and settling. */
  start(): void {
    this.#schedule();
    this.#scheduleSettle();
  }

  /** Stops them; resolves once a run in progress has stopped at its next step. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#settleTimer);
    await this.#running?.catch(() => undefined);
  }

  /** Appends the entries of a group's changes; call inside the group's transaction. */
  append(groups: Iterable<readonly StoreChange[]>): void {
    let any = false;
    for (const changes of groups) {
      for (const change of changes) {
        if (change.kind !== 'twins' || change.history === undefined || change.history.length === 0) continue;
        this.#writer.append(change.device.id, change.history);
        any = true;
      }
    }
    if (any) this.#writer.finish();
  }

  committed(): void {
    this.#writer.committed();
  }

  rolledBack(): void {
    this.#writer.rolledBack();
  }

  query(query: HistoryQuery): HistorySeries[] {
    return this.#reader.query(query);
  }

  stats(): HistoryStats {
    const tiers: Record<HistoryTier, { rows: number; bytes: number }> = { raw: { rows: 0, bytes: 0 }, minute: { rows: 0, bytes: 0 }, hour: { rows: 0, bytes: 0 } };
    let oldest: number | undefined;
    for (const [tier, rows, bytes, part] of this.#tiers.iterate()) {
      const name = TIER_NAMES[tier];
      if (name !== undefined) tiers[name] = { rows, bytes };
      oldest = Math.min(oldest ?? Infinity, part * PART_MS);
    }
    return oldest === undefined ? { tiers } : { tiers, oldest };
  }

  /** Runs retention and downsampling now; one run at a time (a call during a run gets the next one). */
  maintain(): Promise<HistoryMaintenanceReport> {
    return this.#queue(async () => {
      const started = performance.now();
      const report = await this.#drive(this.#maintainer.run(this.#policy, this.#clock()), NOTHING);
      if (!this.#stopped) this.#o.onMaintain?.(report, (performance.now() - started) / 1000);
      return report;
    }, NOTHING);
  }

  /** Moves the log into history_raw now; resolves with how many entries moved. */
  settle(): Promise<number> {
    return this.#queue(() => this.#drive(this.#maintainer.settle(), 0), 0);
  }

  /** Runs `run` after the run in progress; once stopped, resolves with `stopped` instead. */
  #queue<T>(run: () => Promise<T>, stopped: T): Promise<T> {
    const next = (this.#running ?? Promise.resolve()).catch(() => undefined).then(() => (this.#stopped ? stopped : run()));
    this.#running = next;
    return next;
  }

  /** Runs a generator one step (one transaction) at a time, pausing after each. */
  async #drive<T>(run: Generator<void, T>, stopped: T): Promise<T> {
    for (;;) {
      const t0 = performance.now();
      let step: IteratorResult<void, T>;
      try {
        step = run.next();
      } catch (err) {
        throw this.#o.failed(err);
      }
      if (step.done) return step.value;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, PAUSE_FACTOR * (performance.now() - t0))));
      if (this.#stopped) {
        // Closing: what ran is committed, the rest waits for the next start.
        run.return(stopped);
        return stopped;
      }
    }
  }

  #scheduleSettle(): void {
    const interval = this.#o.settleMs ?? SETTLE_MS;
    if (interval <= 0 || this.#stopped) return;
    this.#settleTimer = setTimeout(() => {
      this.settle()
        .catch((err: unknown) => this.#o.logger.warn({ err, path: this.#o.path }, 'moving history entries into their hours failed; retried in a second'))
        .finally(() => this.#scheduleSettle());
    }, interval);
    this.#settleTimer.unref();
  }

  #schedule(): void {
    const interval = this.#o.intervalMs ?? INTERVAL_MS;
    if (interval <= 0 || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.maintain()
        .catch((err: unknown) => this.#o.logger.warn({ err, path: this.#o.path }, 'history maintenance failed; it runs again at the next interval'))
        .finally(() => this.#schedule());
    }, interval);
    // Maintenance never keeps the process alive.
    this.#timer.unref();
  }
}
