// The outbox's file: one SQLite database in the data dir (`telemetry-outbox.db`), apart from the
// twin store. Why a file of its own rather than the twin store: the twin store's group commit is
// the twin path, and a backlog of millions of rows for a sink that is down (and the deletes of
// its drain) must never lengthen a twin commit or its checkpoint; devicetwin/ also knows no
// sink (DESIGN.md). The same choice as cloud sync's outbox (cloudsync/outbox.ts).
//
// WAL with synchronous=NORMAL: a committed enqueue survives a crash or a kill of the process
// (https://www.sqlite.org/wal.html); a power cut may lose the last transactions, as for the
// cloud outbox.

import Database from 'better-sqlite3';
import { edgetwinError, toEdgetwinError } from '../../errors.js';
import type { SinkRecord } from '../sink.js';

/** One queued record as stored: its position (delivery order) and size. */
export interface StoredRecord {
  readonly seq: number;
  readonly bytes: number;
  readonly record: SinkRecord;
}

export interface SinkCounts {
  readonly records: number;
  readonly bytes: number;
}

type Row = { seq: number; bytes: number; rec: string };

export class OutboxStore {
  private db?: Database.Database;
  private readonly ids = new Map<string, number>();
  private stmts?: {
    sinkId: Database.Statement<[string]>;
    newSink: Database.Statement<[string]>;
    insert: Database.Statement<[number, number, string]>;
    peek: Database.Statement<[number, number], Row>;
    removeUpTo: Database.Statement<[number, number], { bytes: number }>;
    oldest: Database.Statement<[number], { seq: number; bytes: number }>;
    removeOne: Database.Statement<[number]>;
    counts: Database.Statement<[], { sink: string; records: number; bytes: number }>;
  };

  constructor(private readonly file: string) {}

  /** Opens (creating) the file; returns what each sink has queued from before a restart. */
  open(): Map<string, SinkCounts> {
    try {
      const db = new Database(this.file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS sinks (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, sink INTEGER NOT NULL, bytes INTEGER NOT NULL, rec TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS outbox_sink_seq ON outbox (sink, seq);
      `);
      this.db = db;
      this.stmts = {
        sinkId: db.prepare('SELECT id FROM sinks WHERE name = ?'),
        newSink: db.prepare('INSERT INTO sinks (name) VALUES (?)'),
        insert: db.prepare('INSERT INTO outbox (sink, bytes, rec) VALUES (?, ?, ?)'),
        peek: db.prepare('SELECT seq, bytes, rec FROM outbox WHERE sink = ? ORDER BY seq LIMIT ?'),
        removeUpTo: db.prepare('DELETE FROM outbox WHERE sink = ? AND seq <= ? RETURNING bytes'),
        oldest: db.prepare('SELECT seq, bytes FROM outbox WHERE sink = ? ORDER BY seq LIMIT 1'),
        removeOne: db.prepare('DELETE FROM outbox WHERE seq = ?'),
        counts: db.prepare('SELECT s.name AS sink, count(o.seq) AS records, coalesce(sum(o.bytes), 0) AS bytes FROM sinks s JOIN outbox o ON o.sink = s.id GROUP BY s.id'),
      };
      const out = new Map<string, SinkCounts>();
      for (const r of this.stmts.counts.all()) out.set(r.sink, { records: r.records, bytes: r.bytes });
      return out;
    } catch (err) {
      this.db?.close();
      this.db = undefined;
      throw edgetwinError('EDGETWIN_ERR_OUTBOX_OPEN', `telemetry outbox ${this.file}: ${toEdgetwinError(err).message}`, [], err);
    }
  }

  private get s(): NonNullable<OutboxStore['stmts']> {
    if (!this.stmts || !this.db?.open) throw edgetwinError('EDGETWIN_ERR_STORE_CLOSED', 'the telemetry outbox is closed');
    return this.stmts;
  }

  private idOf(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      const s = this.s;
      const row = s.sinkId.get(name) as { id: number } | undefined;
      id = row ? row.id : Number(s.newSink.run(name).lastInsertRowid);
      this.ids.set(name, id);
    }
    return id;
  }

  /**
   * Writes `entries` (in order) in one transaction, then drops the oldest records of each sink
   * still `over(sink)` its bounds (drop-oldest), telling `onDrop` of each.
   */
  append(
    entries: readonly { readonly sink: string; readonly bytes: number; readonly rec: string }[],
    over: (sink: string) => { records: number; bytes: number } | undefined,
    onDrop: (sink: string, bytes: number) => void,
  ): void {
    const s = this.s;
    this.db!.transaction(() => {
      const touched = new Set<string>();
      for (const e of entries) {
        s.insert.run(this.idOf(e.sink), e.bytes, e.rec);
        touched.add(e.sink);
      }
      for (const sink of touched) {
        const id = this.idOf(sink);
        for (let excess = over(sink); excess && (excess.records > 0 || excess.bytes > 0); excess = over(sink)) {
          const row = s.oldest.get(id);
          if (!row) break;
          s.removeOne.run(row.seq);
          onDrop(sink, row.bytes);
        }
      }
    })();
  }

  /** The oldest `limit` records of `sink`, in delivery order. */
  peek(sink: string, limit: number): StoredRecord[] {
    return this.s.peek.all(this.idOf(sink), limit).map((r) => ({ seq: r.seq, bytes: r.bytes, record: JSON.parse(r.rec) as SinkRecord }));
  }

  /** Removes `sink`'s records up to `seq` (delivered); returns how many and their bytes. */
  remove(sink: string, seq: number): SinkCounts {
    const rows = this.s.removeUpTo.all(this.idOf(sink), seq);
    let bytes = 0;
    for (const r of rows) bytes += r.bytes;
    return { records: rows.length, bytes };
  }

  /** Bytes of the file and its WAL (benchmarks, docs). */
  fileBytes(): number {
    const r = this.db?.pragma('page_count', { simple: true }) as number | undefined;
    const size = this.db?.pragma('page_size', { simple: true }) as number | undefined;
    return (r ?? 0) * (size ?? 0);
  }

  close(): void {
    if (this.db?.open) this.db.close();
    this.db = undefined;
    this.stmts = undefined;
  }
}
