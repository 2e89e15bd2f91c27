// History inside the SQLite store: appends in the group commit's transaction (history-write.ts),
// queries (history-read.ts), and maintenance (history-maintain.ts) run periodically and on
// demand, paced so it never takes more than a fifth of the event loop. sqlite.ts owns one.

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
  readonly clock?: (() => number) | undefined;
  readonly onMaintain?: ((report: HistoryMaintenanceReport, seconds: number) => void) | undefined;
  /** Turns a failure of a maintenance step into the store's coded error. */
  readonly failed: (err: unknown) => EdgetwinError;
}

const INTERVAL_MS = 60_000;
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
  #running: Promise<HistoryMaintenanceReport> | undefined;
  #timer: NodeJS.Timeout | undefined;
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

  /** Starts the periodic maintenance. */
  start(): void {
    this.#schedule();
  }

  /** Stops it; resolves once a run in progress has stopped at its next step. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
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
    const run = (this.#running ?? Promise.resolve(NOTHING)).catch(() => NOTHING).then(() => this.#run());
    this.#running = run;
    return run;
  }

  async #run(): Promise<HistoryMaintenanceReport> {
    if (this.#stopped) return NOTHING;
    const started = performance.now();
    const run = this.#maintainer.run(this.#policy, this.#clock());
    for (;;) {
      const t0 = performance.now();
      let step: IteratorResult<void, HistoryMaintenanceReport>;
      try {
        step = run.next();
      } catch (err) {
        throw this.#o.failed(err);
      }
      if (step.done) {
        this.#o.onMaintain?.(step.value, (performance.now() - started) / 1000);
        return step.value;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, PAUSE_FACTOR * (performance.now() - t0))));
      if (this.#stopped) {
        // Closing: what ran is committed, the rest waits for the next start.
        run.return(NOTHING);
        return NOTHING;
      }
    }
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
