// The hot path of history: appending a group's entries inside the group commit's transaction
// (sqlite.ts). Per entry one INSERT at the end of history_log (schema.ts v2 says why), per group
// one counter upsert per hour touched. Series ids are interned once and cached here.

import type { Database, Statement } from 'better-sqlite3';

import type { HistoryEntry } from '../types.js';
import { KIND_CODES, RAW, RAW_ROW_BYTES, partOf, valueBytes } from './history-buckets.js';

/**
 * A device's series ids, `ids[3 * i + kind]` for property `names[i]` (0 when not yet known).
 * Arrays rather than a Map per device (a device has a handful of properties, so a linear search
 * beats hashing): ~460 bytes for a 5-property device with all its series known.
 */
interface DeviceSeries {
  readonly names: string[];
  readonly ids: number[];
}

/**
 * Devices whose series ids are cached: 10,000 (mqtt.limits.maxDevices' default) cost ~5 MB.
 * Past that the oldest cached device is forgotten and looked up again in SQLite when it writes
 * (an index seek): a node with 100k devices does not pay ~46 MB for the cache.
 */
const CACHED_DEVICES = 10_000;

interface Statements {
  readonly findSeries: Statement<[string, string, number], number>;
  readonly addSeries: Statement<[string, string, number]>;
  readonly append: Statement<[number, number, number | string]>;
  readonly count: Statement<[number, number, number]>;
}

export class HistoryWriter {
  readonly #s: Statements;
  readonly #devices = new Map<string, DeviceSeries>();
  /** Rows and bytes added per hour by the transaction in progress. */
  #parts = new Map<number, [rows: number, bytes: number]>();

  constructor(db: Database) {
    this.#s = {
      findSeries: db.prepare<[string, string, number], number>('SELECT id FROM history_series WHERE device = ? AND property = ? AND kind = ?').pluck(),
      addSeries: db.prepare('INSERT INTO history_series (device, property, kind) VALUES (?, ?, ?)'),
      append: db.prepare('INSERT INTO history_log (series, ts, value) VALUES (?, ?, ?)'),
      count: db.prepare(
        `INSERT INTO history_parts (part, tier, rows, bytes) VALUES (?, ${RAW}, ?, ?)
         ON CONFLICT (part, tier) DO UPDATE SET rows = rows + excluded.rows, bytes = bytes + excluded.bytes`,
      ),
    };
  }

  /** Appends one change's entries. Call inside the group's transaction, then {@link finish}. */
  append(device: string, entries: readonly HistoryEntry[]): void {
    const s = this.#s;
    for (const e of entries) {
      s.append.run(this.#series(device, e.property, KIND_CODES[e.kind]), e.timestamp, e.value);
      // The log's rows count as raw entries of their hour from the start: moving them into
      // history_raw changes no counter.
      const part = partOf(e.timestamp);
      const counts = this.#parts.get(part);
      const bytes = RAW_ROW_BYTES + valueBytes(e.value);
      if (counts === undefined) this.#parts.set(part, [1, bytes]);
      else {
        counts[0]++;
        counts[1] += bytes;
      }
    }
  }

  /** Writes the per-hour counters of the entries appended since the last commit or rollback. */
  finish(): void {
    for (const [part, [rows, bytes]] of this.#parts) this.#s.count.run(part, rows, bytes);
    this.#parts.clear();
  }

  /** The transaction committed. */
  committed(): void {
    this.#parts.clear();
  }

  /**
   * The transaction rolled back: the series it created do not exist, and SQLite may give their
   * ids to others. Failed commits are rare, so the whole cache goes and refills from SQLite.
   */
  rolledBack(): void {
    this.#devices.clear();
    this.#parts.clear();
  }

  /** Map order is insertion order: the first key is the device cached longest ago. */
  #forgetOldest(): void {
    for (const [oldest] of this.#devices) {
      this.#devices.delete(oldest);
      return;
    }
  }

  #series(device: string, property: string, kind: number): number {
    let known = this.#devices.get(device);
    if (known === undefined) {
      known = { names: [], ids: [] };
      if (this.#devices.size >= CACHED_DEVICES) this.#forgetOldest();
      this.#devices.set(device, known);
    }
    let i = known.names.indexOf(property);
    if (i < 0) {
      i = known.names.length;
      known.names.push(property);
      known.ids.push(0, 0, 0);
    }
    const index = 3 * i + kind;
    const cached = known.ids[index] ?? 0;
    if (cached !== 0) return cached;
    let id = this.#s.findSeries.get(device, property, kind);
    id ??= Number(this.#s.addSeries.run(device, property, kind).lastInsertRowid);
    known.ids[index] = id;
    return id;
  }
}
