// The SQLite TwinStore (better-sqlite3). better-sqlite3 is synchronous, so a flush runs whole
// between two turns of the event loop: every commit() queued before it is in its transaction,
// and none can arrive during it.

import { basename, dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

import Database from 'better-sqlite3';
import type { Logger } from 'pino';

import { edgetwinError, isEdgetwinError, type EdgetwinError, type ErrorCode } from '../../errors.js';
import type { HistoryMaintenanceReport, HistoryPolicy, HistoryQuery, HistorySeries, HistoryStats, StoreChange, StoredData, TwinStore } from '../types.js';
import { coalesce, splitId, type DevicePlan } from './coalesce.js';
import { checkStoreFile, makeDirectory, markerOf, markStoreCreated } from './files.js';
import { loadAll, prepareWriters, twinParams, type Writers } from './rows.js';
import type { CheckpointWorkerInput } from './checkpoint-worker.js';
import { SqliteHistory } from './history-store.js';
import { migrate, SCHEMA_VERSION } from './schema.js';

export type StoreLogger = Pick<Logger, 'debug' | 'info' | 'warn'>;

export interface SqliteTwinStoreOptions {
  /** The database file; its directory is created if missing. */
  readonly path: string;
  /**
   * Both modes use a write-ahead log (WAL), so a crash never corrupts the database.
   * - `normal` (default): `synchronous=NORMAL`. A commit that has resolved survives a crash of
   *   the process (kill -9, OOM kill): its WAL frames are in the kernel's page cache, which the
   *   kernel writes out. A power cut or kernel panic can lose the last commits before the next
   *   checkpoint, never the database. Default because edge nodes run on SD cards and eMMC, where
   *   an fsync per group costs milliseconds and flash wear, and what a power cut loses is the most
   *   recent twin changes, which mappers re-report on their next cycle.
   * - `full`: `synchronous=FULL` also fsyncs the WAL on every commit (once per group, not per
   *   change), so a resolved commit survives power loss too. Choose it when desired values from
   *   apps or the cloud must never be lost.
   */
  readonly synchronous?: 'normal' | 'full';
  /**
   * Extra PRAGMAs applied after the store's own, e.g. `{ cache_size: -16000, busy_timeout: 250 }`.
   * `journal_mode`, `synchronous` and `foreign_keys` are the store's and cannot be set here.
   */
  readonly pragmas?: Readonly<Record<string, string | number>>;
  readonly logger?: StoreLogger;
  /**
   * Called after every transaction (one per group commit) with its duration, the number of
   * commit() calls it folded in, and the error if it failed: metrics (edgecore/metrics.ts).
   */
  readonly onCommit?: (seconds: number, groups: number, error?: EdgetwinError) => void;
  /** Retention and downsampling of history (default: DEFAULT_HISTORY_POLICY, docs/telemetry.md). */
  readonly history?: HistoryPolicy;
  /** How often history maintenance runs on its own, in ms (default 60 s; 0: only when maintainHistory() is called). */
  readonly historyMaintenanceMs?: number;
  /** How often new history entries move from their log into their hours, in ms (default 1 s; 0: only within maintenance). */
  readonly historySettleMs?: number;
  /** Injectable clock (ms since the epoch) for history retention, for tests. */
  readonly clock?: () => number;
  /** Called after every history maintenance run (metrics). */
  readonly onMaintain?: (report: HistoryMaintenanceReport, seconds: number) => void;
}

/**
 * How long a write waits for another connection's lock (an operator's sqlite3 shell, a backup)
 * before it fails. The wait blocks the event loop, so it is kept short of MQTT keep-alives.
 */
const BUSY_TIMEOUT_MS = 2000;
/** After a checkpoint the WAL file is truncated to this size rather than left at its peak. */
const JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024;
const OWN_PRAGMAS = new Set(['journal_mode', 'synchronous', 'foreign_keys']);
/**
 * WAL checkpoints run in a worker (checkpoint-worker.ts) every this many ms instead of inside a
 * commit. At 5,000 updates/s that bounds the WAL to ~0.5 s of writes (a few MB). Workers run
 * compiled JavaScript only: from the TypeScript sources (tests) SQLite checkpoints as usual.
 */
const CHECKPOINT_INTERVAL_MS = 500;
const CHECKPOINT_WORKER = import.meta.url.endsWith('.js') ? new URL('./checkpoint-worker.js', import.meta.url) : undefined;
/** SQLite's default wal_autocheckpoint, restored if the worker dies. */
const AUTOCHECKPOINT_PAGES = 1000;

interface Pending {
  readonly changes: readonly StoreChange[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const noop = (): void => {};
const silent: StoreLogger = { debug: noop, info: noop, warn: noop };

export class SqliteTwinStore implements TwinStore {
  readonly #path: string;
  readonly #synchronous: 'normal' | 'full';
  readonly #pragmas: Readonly<Record<string, string | number>>;
  readonly #log: StoreLogger;
  readonly #onCommit: SqliteTwinStoreOptions['onCommit'];
  readonly #options: SqliteTwinStoreOptions;
  #db: Database.Database | undefined;
  #writeGroup: Database.Transaction<(plans: Map<string, DevicePlan>, group: readonly Pending[]) => void> | undefined;
  #history: SqliteHistory | undefined;
  #pending: Pending[] = [];
  #flushScheduled: NodeJS.Immediate | undefined;
  #checkpointer: Worker | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: SqliteTwinStoreOptions) {
    this.#path = options.path;
    this.#synchronous = options.synchronous ?? 'normal';
    this.#pragmas = options.pragmas ?? {};
    this.#log = options.logger ?? silent;
    this.#onCommit = options.onCommit;
    this.#options = options;
  }

  open(): Promise<StoredData> {
    // The executor turns a throw into a rejection.
    return new Promise((resolve) => resolve(this.#open()));
  }

  commit(changes: readonly StoreChange[]): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#db === undefined) {
      return Promise.reject(edgetwinError('EDGETWIN_ERR_STORE_CLOSED', 'the store is not open: await open() before commit()'));
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ changes, resolve, reject });
      // The first commit of a tick schedules the flush; later ones ride along. setImmediate runs
      // after the pending I/O callbacks, so a burst of MQTT messages read together shares it.
      this.#flushScheduled ??= setImmediate(() => this.#flush());
    });
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      // New commits are refused from now on; queued ones are still flushed by #close.
      this.#closed = true;
      const history = this.#history?.stop();
      this.#closing = this.#checkpointer === undefined && history === undefined
        ? new Promise((resolve) => resolve(this.#close()))
        : Promise.all([history, this.#stopCheckpointer()]).then(() => this.#close());
    }
    return this.#closing;
  }

  queryHistory(query: HistoryQuery): Promise<HistorySeries[]> {
    return new Promise((resolve) => resolve(this.#openHistory().query(query)));
  }

  historyStats(): Promise<HistoryStats> {
    return new Promise((resolve) => resolve(this.#openHistory().stats()));
  }

  maintainHistory(): Promise<HistoryMaintenanceReport> {
    return new Promise((resolve) => resolve(this.#openHistory().maintain()));
  }

  #openHistory(): SqliteHistory {
    if (this.#closed || this.#history === undefined) throw closedError();
    return this.#history;
  }

  /** Hands WAL checkpoints to a worker thread; SQLite's own checkpointing stays if it cannot. */
  #startCheckpointer(db: Database.Database): void {
    if (CHECKPOINT_WORKER === undefined || 'wal_autocheckpoint' in this.#pragmas) return;
    const input: CheckpointWorkerInput = { path: this.#path, synchronous: this.#synchronous, intervalMs: CHECKPOINT_INTERVAL_MS };
    let worker: Worker;
    try {
      worker = new Worker(CHECKPOINT_WORKER, { workerData: input });
    } catch (err) {
      this.#log.warn({ err, path: this.#path }, 'no WAL checkpoint worker; SQLite checkpoints in commits');
      return;
    }
    db.pragma('wal_autocheckpoint = 0');
    worker.once('error', (err) => this.#log.warn({ err, path: this.#path }, 'WAL checkpoint worker failed; SQLite checkpoints in commits again'));
    worker.once('exit', () => {
      if (this.#checkpointer !== worker) return; // stopped on purpose
      this.#checkpointer = undefined;
      if (this.#db === db) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    });
    // The worker must not keep the process alive: close() stops it, an exit kills it.
    worker.unref();
    this.#checkpointer = worker;
  }

  async #stopCheckpointer(): Promise<void> {
    const worker = this.#checkpointer;
    if (worker === undefined) return;
    this.#checkpointer = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Referenced again so the event loop waits for the exit this awaits (unref'd, a process with
    // nothing else left would end mid-close).
    worker.ref();
    worker.postMessage('stop');
    await exited;
  }

  #open(): StoredData {
    if (this.#closed) throw closedError();
    if (this.#db !== undefined) throw edgetwinError('EDGETWIN_ERR_STORE_OPEN', `the store at ${this.#path} is already open`);
    const started = performance.now();
    let db: Database.Database | undefined;
    try {
      const pragmas = checkPragmas(this.#pragmas);
      makeDirectory(dirname(this.#path));
      // A used store whose file went missing, empty or short is refused, not started afresh.
      checkStoreFile(this.#path);
      db = new Database(this.#path, { timeout: BUSY_TIMEOUT_MS });
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') {
        // WAL needs shared memory; some network file systems lack it. The rollback journal is
        // just as safe, only slower and blocking readers during writes.
        this.#log.warn({ path: this.#path, mode }, 'SQLite refused WAL mode; using its rollback journal');
      }
      db.pragma(`synchronous = ${this.#synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      for (const pragma of pragmas) db.pragma(pragma);
      const applied = migrate(db);
      if (applied.length > 0) this.#log.info({ path: this.#path, applied }, 'store schema migrated');
      const writers = prepareWriters(db);
      const data = loadAll(db);
      markStoreCreated(this.#path);
      const { history: policy, historyMaintenanceMs: intervalMs, historySettleMs: settleMs, clock, onMaintain } = this.#options;
      const failed = (err: unknown): EdgetwinError => edgetwinError(
        'EDGETWIN_ERR_STORE_WRITE',
        `history maintenance of ${this.#path} failed: ${messageOf(err)}; ${hint(err, 'EDGETWIN_ERR_STORE_WRITE', this.#path)}`,
        [],
        err,
      );
      const history = new SqliteHistory(db, { path: this.#path, logger: this.#log, policy, intervalMs, settleMs, clock, onMaintain, failed });
      this.#db = db;
      this.#history = history;
      this.#writeGroup = db.transaction((plans: Map<string, DevicePlan>, group: readonly Pending[]) => {
        writePlans(writers, plans);
        history.append(group.map((p) => p.changes));
      });
      if (mode === 'wal') this.#startCheckpointer(db);
      history.start();
      this.#log.debug(
        { path: this.#path, schema: SCHEMA_VERSION, devices: data.devices.length, members: data.members.length,
          ms: Math.round(performance.now() - started) },
        'store opened',
      );
      return data;
    } catch (err) {
      db?.close();
      if (isEdgetwinError(err)) throw err;
      throw edgetwinError(
        'EDGETWIN_ERR_STORE_OPEN',
        `could not open the store at ${this.#path}: ${messageOf(err)}; ${hint(err, 'EDGETWIN_ERR_STORE_OPEN', this.#path)}`,
        [],
        err,
      );
    }
  }

  #flush(): void {
    this.#flushScheduled = undefined;
    const group = this.#pending;
    this.#pending = [];
    if (group.length === 0) return;
    const writeGroup = this.#writeGroup;
    if (writeGroup === undefined) {
      for (const p of group) p.reject(closedError());
      return;
    }
    const failure = this.#write(writeGroup, group);
    if (failure === undefined) {
      for (const p of group) p.resolve();
      return;
    }
    if (group.length === 1 || !isFull(failure.cause)) {
      for (const p of group) p.reject(failure);
      return;
    }
    // The disk is full: one change that needs a new page must not take down the others of its
    // group that fit (a burst of resends would otherwise fail every write). Each alone, in
    // order, which is what the group's plan stands for (coalesce.ts).
    for (const p of group) {
      const alone = this.#write(writeGroup, [p]);
      if (alone === undefined) p.resolve();
      else p.reject(alone);
    }
  }

  /** One transaction for `group`; the error if it failed (rolled back: nothing of it applied). */
  #write(writeGroup: Database.Transaction<(plans: Map<string, DevicePlan>, group: readonly Pending[]) => void>, group: readonly Pending[]): EdgetwinError | undefined {
    const started = this.#onCommit ? performance.now() : 0;
    try {
      // IMMEDIATE takes the write lock up front; a deferred BEGIN could fail with SQLITE_BUSY at
      // its first write without waiting for busy_timeout when another connection holds the lock.
      writeGroup.immediate(coalesce(group.map((p) => p.changes)), group);
    } catch (err) {
      // better-sqlite3 has rolled the transaction back: nothing of the group was applied.
      this.#history?.rolledBack();
      const error = edgetwinError(
        'EDGETWIN_ERR_STORE_WRITE',
        `could not commit ${group.length} change group(s) to ${this.#path}; nothing was applied: ` +
          `${messageOf(err)}; ${hint(err, 'EDGETWIN_ERR_STORE_WRITE', this.#path)}`,
        [],
        err,
      );
      this.#log.warn({ err: error, path: this.#path }, 'store commit failed');
      this.#onCommit?.((performance.now() - started) / 1000, group.length, error);
      return error;
    }
    this.#history?.committed();
    this.#onCommit?.((performance.now() - started) / 1000, group.length);
    return undefined;
  }

  #close(): void {
    this.#closed = true;
    if (this.#flushScheduled !== undefined) clearImmediate(this.#flushScheduled);
    const db = this.#db;
    if (db === undefined) return;
    this.#flush();
    this.#db = undefined;
    this.#writeGroup = undefined;
    this.#history = undefined;
    try {
      // SQLite recommends `optimize` before closing a long-lived connection; the TRUNCATE
      // checkpoint folds the WAL into the database so the next open does not replay it.
      db.pragma('optimize');
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      // The WAL is still complete and the next open replays it; closing must still happen.
      this.#log.warn({ err, path: this.#path }, 'store checkpoint on close failed');
    }
    db.close();
  }
}

function writePlans(w: Writers, plans: Map<string, DevicePlan>): void {
  for (const plan of plans.values()) {
    const { id } = plan;
    if (plan.reset) {
      w.deleteMember.run(id);
      w.deleteDevice.run(id); // twins go with it (ON DELETE CASCADE)
    }
    if (plan.member !== undefined) {
      const m = plan.member;
      w.upsertMember.run(id, m.namespace, m.name, m.model, m.description ?? null, m.origin);
    }
    if (plan.device !== undefined) w.upsertDeviceVersion.run(id, plan.device.namespace, plan.device.name, plan.device.version);
    if (plan.state !== undefined) {
      const { namespace, name } = plan.device ?? splitId(id);
      w.upsertDeviceState.run(id, namespace, name, plan.state.state, plan.state.lastOnline);
    }
    if (plan.replaceTwins) w.deleteTwins.run(id);
    for (const [property, twin] of plan.twins) {
      if (twin === null) w.deleteTwin.run(id, property);
      else w.upsertTwin.run(...twinParams(id, property, twin));
    }
  }
}

function checkPragmas(pragmas: Readonly<Record<string, string | number>>): string[] {
  return Object.entries(pragmas).map(([name, value]) => {
    // Pragmas take no bound parameters, so names and values are checked before being spliced in.
    if (!/^[a-z_]+$/.test(name) || OWN_PRAGMAS.has(name) || !/^-?[\w.]+$/.test(String(value))) {
      throw edgetwinError(
        'EDGETWIN_ERR_STORE_OPEN',
        `the store option pragmas.${name} = ${JSON.stringify(value)} is not allowed ` +
          `(a lowercase pragma name other than ${[...OWN_PRAGMAS].join(', ')}, and a number or word)`,
      );
    }
    return `${name} = ${value}`;
  });
}

/** SQLITE_FULL: the disk (or max_page_count) is full; changes that need no new page still fit. */
function isFull(err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code === 'SQLITE_FULL';
}

function closedError(): Error {
  return edgetwinError('EDGETWIN_ERR_STORE_CLOSED', 'the store is closed (edgetwin is shutting down); the change was not saved');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What an operator should do about a failure, by SQLite result code or errno. */
function hint(err: unknown, code: ErrorCode, path: string): string {
  const cause = err instanceof Database.SqliteError ? err.code
    : err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : '';
  if (cause === 'SQLITE_FULL' || cause === 'ENOSPC') return 'the disk is full: free space on it, then retry';
  if (cause.startsWith('SQLITE_READONLY') || cause === 'EACCES' || cause === 'EPERM' || cause === 'EROFS') {
    return 'the database file or its directory is not writable: check permissions and that the file system is mounted read-write';
  }
  if (cause.startsWith('SQLITE_BUSY') || cause.startsWith('SQLITE_LOCKED')) {
    return 'another process holds a lock on the database: stop it (only one edgetwin may use a data directory)';
  }
  if (cause === 'SQLITE_NOTADB' || cause.startsWith('SQLITE_CORRUPT')) {
    return `the file is not a usable SQLite database: restore a backup, or move it aside together with ${basename(markerOf(path))} (edgetwin then starts a new, empty one)`;
  }
  if (cause.startsWith('SQLITE_IOERR')) return 'the disk reported an I/O error: check the storage device';
  if (cause.startsWith('SQLITE_CANTOPEN')) return 'check that the path names a file in a directory edgetwin can write to';
  return code === 'EDGETWIN_ERR_STORE_OPEN' ? 'check the data directory' : 'the change can be retried';
}
