// Cloud sync's own durable state, in its own SQLite file beside the twin store (WAL):
// - status: per device and property, the latest reported/observedDesired to write and whether it
//   is still pending (the outbox: latest value per property wins; oldest pending device first);
// - device_state: the same for state/lastOnlineTime;
// - desired_sync: the desired value last agreed with the cluster (the conflict rule's "last sync");
// - objects: the last Devices and DeviceModels seen for this node, so a restart while the API
//   server is unreachable still binds the cluster's devices.
// Writes are queued and committed together once per tick: one fsync for a burst of readings.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { edgetwinError } from '../errors.js';
import type { KubeObject } from './kube.js';
import type { StatusValue } from './status.js';

const SCHEMA_VERSION = 1;

export interface StatusRow {
  readonly reported?: StatusValue;
  readonly observed?: StatusValue;
  /** Sequence number of the oldest change not yet written to the cluster; undefined once written. */
  readonly pendingSince?: number;
  /** Sequence number of the latest change (acks only clear a row still at the sequence sent). */
  readonly seq: number;
}

export interface StateRow {
  readonly state: string;
  readonly lastOnline: string;
  readonly pendingSince?: number;
  readonly seq: number;
}

export interface OutboxData {
  readonly status: Map<string, Map<string, StatusRow>>;
  readonly states: Map<string, StateRow>;
  readonly desired: Map<string, Map<string, string | null>>;
  readonly objects: KubeObject[];
  readonly seq: number;
}

type Op = () => void;

export class Outbox {
  private db?: Database.Database;
  private queue: Op[] = [];
  private readonly statements = new Map<string, Database.Statement>();
  private flushing?: NodeJS.Immediate;
  /** The last failed background flush (cleared by the next success), for health(). */
  lastError?: Error;

  constructor(private readonly file: string) {}

  static inDataDir(dataDir: string): Outbox {
    return new Outbox(path.join(dataDir, 'cloudsync.db'));
  }

  open(): OutboxData {
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const db = new Database(this.file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS status (device TEXT NOT NULL, property TEXT NOT NULL, reported TEXT, observed TEXT,
          pending_since INTEGER, seq INTEGER NOT NULL, PRIMARY KEY (device, property)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS device_state (device TEXT PRIMARY KEY, state TEXT NOT NULL, last_online TEXT NOT NULL,
          pending_since INTEGER, seq INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS desired_sync (device TEXT NOT NULL, property TEXT NOT NULL, value TEXT,
          PRIMARY KEY (device, property)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS objects (plural TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
          PRIMARY KEY (plural, key)) WITHOUT ROWID;
      `);
      const version = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema'").get();
      if (!version) db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
      else if (Number(version.value) > SCHEMA_VERSION) throw new Error(`outbox schema ${version.value} is newer than this edgetwin (${SCHEMA_VERSION})`);
      this.db = db;
      return this.load(db);
    } catch (err) {
      throw edgetwinError('EDGETWIN_ERR_CLOUD_OUTBOX', `cannot open ${this.file}: ${err instanceof Error ? err.message : String(err)}`, [], err);
    }
  }

  private load(db: Database.Database): OutboxData {
    const status = new Map<string, Map<string, StatusRow>>();
    let seq = 0;
    type Raw = { device: string; property: string; reported: string | null; observed: string | null; pending_since: number | null; seq: number };
    for (const r of db.prepare<[], Raw>('SELECT * FROM status').all()) {
      const rows = status.get(r.device) ?? new Map<string, StatusRow>();
      rows.set(r.property, {
        ...(r.reported ? { reported: JSON.parse(r.reported) as StatusValue } : {}),
        ...(r.observed ? { observed: JSON.parse(r.observed) as StatusValue } : {}),
        ...(r.pending_since !== null ? { pendingSince: r.pending_since } : {}),
        seq: r.seq,
      });
      status.set(r.device, rows);
      seq = Math.max(seq, r.seq);
    }
    const states = new Map<string, StateRow>();
    type RawState = { device: string; state: string; last_online: string; pending_since: number | null; seq: number };
    for (const r of db.prepare<[], RawState>('SELECT * FROM device_state').all()) {
      states.set(r.device, { state: r.state, lastOnline: r.last_online, ...(r.pending_since !== null ? { pendingSince: r.pending_since } : {}), seq: r.seq });
      seq = Math.max(seq, r.seq);
    }
    const desired = new Map<string, Map<string, string | null>>();
    for (const r of db.prepare<[], { device: string; property: string; value: string | null }>('SELECT * FROM desired_sync').all()) {
      const m = desired.get(r.device) ?? new Map<string, string | null>();
      m.set(r.property, r.value);
      desired.set(r.device, m);
    }
    const objects = db.prepare<[], { body: string }>('SELECT body FROM objects').all().map((r) => JSON.parse(r.body) as KubeObject);
    return { status, states, desired, objects, seq };
  }

  putStatus(device: string, property: string, row: StatusRow): void {
    this.enqueue(() =>
      this.stmt('INSERT OR REPLACE INTO status (device, property, reported, observed, pending_since, seq) VALUES (?, ?, ?, ?, ?, ?)').run(
        device,
        property,
        row.reported ? JSON.stringify(row.reported) : null,
        row.observed ? JSON.stringify(row.observed) : null,
        row.pendingSince ?? null,
        row.seq,
      ),
    );
  }

  putState(device: string, row: StateRow): void {
    this.enqueue(() =>
      this.stmt('INSERT OR REPLACE INTO device_state (device, state, last_online, pending_since, seq) VALUES (?, ?, ?, ?, ?)').run(
        device,
        row.state,
        row.lastOnline,
        row.pendingSince ?? null,
        row.seq,
      ),
    );
  }

  putDesired(device: string, property: string, value: string | null): void {
    this.enqueue(() => this.stmt('INSERT OR REPLACE INTO desired_sync (device, property, value) VALUES (?, ?, ?)').run(device, property, value));
  }

  /** Forgets a device that left the node: its pending status belongs to whoever owns it now. */
  dropDevice(device: string): void {
    this.enqueue(() => {
      for (const table of ['status', 'device_state', 'desired_sync']) this.stmt(`DELETE FROM ${table} WHERE device = ?`).run(device);
    });
  }

  putObject(plural: string, key: string, object: KubeObject | undefined): void {
    this.enqueue(() => {
      if (object) this.stmt('INSERT OR REPLACE INTO objects (plural, key, body) VALUES (?, ?, ?)').run(plural, key, JSON.stringify(object));
      else this.stmt('DELETE FROM objects WHERE plural = ? AND key = ?').run(plural, key);
    });
  }

  /** Commits everything queued, in one transaction. */
  flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    if (!this.db || this.queue.length === 0) return;
    const ops = this.queue;
    this.queue = [];
    try {
      this.db.transaction(() => ops.forEach((op) => op()))();
      this.lastError = undefined;
    } catch (err) {
      // Nothing of the group was applied (one transaction): keep it for the next flush.
      this.queue = [...ops, ...this.queue];
      throw edgetwinError('EDGETWIN_ERR_CLOUD_OUTBOX', `cannot write the outbox: ${err instanceof Error ? err.message : String(err)}`, [], err);
    }
  }

  close(): void {
    this.flush();
    this.statements.clear();
    this.db?.close();
    this.db = undefined;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db!.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private enqueue(op: Op): void {
    if (!this.db) return;
    this.queue.push(op);
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined;
      try {
        this.flush();
      } catch (err) {
        // Kept queued and retried with the next write; health() reports it meanwhile.
        this.lastError = err instanceof Error ? err : new Error(String(err));
      }
    });
  }
}
