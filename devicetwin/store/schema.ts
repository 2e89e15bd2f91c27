// The SQLite schema and its migrations. The schema version lives in `PRAGMA user_version` (a
// field of the database header, so it commits and rolls back with the transaction that sets it).
// A migration is appended, never edited: a database in the field may have run any prefix of the
// list. Migration i (0-based) takes the database from version i to version i + 1.

import type { Database } from 'better-sqlite3';

import { edgetwinError } from '../../errors.js';

export type Migration = (db: Database) => void;

export const MIGRATIONS: readonly Migration[] = [
  // v1: membership, device rows and one row per twin.
  //
  // Twins are columns, not a JSON blob: a commit rewrites only the changed properties' rows, and
  // columns are a third the size of one JSON object per twin (50 MB vs 170 MB for 100k devices × 5
  // twins), keep SQLite's type and CHECK constraints, and read plainly in the sqlite3 shell. WITHOUT ROWID keys the table by
  // (device_id, property), so one device's twins sit together and load in key order.
  //
  // `members` and `devices` are separate because StoredData returns them as separate lists: a
  // device can be a member before any twin state is committed, and open() returns exactly what was
  // committed. Removing a member deletes its device row and (by cascade) its twins, as KubeEdge
  // deletes the device, attr and twin rows together (kubeedge-notes §2, SQLite).
  (db) => {
    db.exec(`
      CREATE TABLE members (
        id          TEXT NOT NULL PRIMARY KEY,
        namespace   TEXT NOT NULL,
        name        TEXT NOT NULL,
        model       TEXT NOT NULL,
        description TEXT,
        origin      TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE devices (
        id          TEXT NOT NULL PRIMARY KEY,
        namespace   TEXT NOT NULL,
        name        TEXT NOT NULL,
        version     INTEGER NOT NULL DEFAULT 0,
        state       TEXT NOT NULL DEFAULT 'unknown',
        last_online TEXT NOT NULL DEFAULT ''
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE twins (
        device_id      TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        property       TEXT NOT NULL,
        type           TEXT NOT NULL,
        optional       INTEGER NOT NULL,
        expected       TEXT,
        expected_ts    INTEGER,
        actual         TEXT,
        actual_ts      INTEGER,
        expected_cloud INTEGER NOT NULL,
        expected_edge  INTEGER NOT NULL,
        actual_cloud   INTEGER NOT NULL,
        actual_edge    INTEGER NOT NULL,
        ack_state      TEXT,
        ack_code       TEXT,
        ack_reason     TEXT,
        ack_ts         INTEGER,
        PRIMARY KEY (device_id, property),
        CHECK ((expected IS NULL) = (expected_ts IS NULL)),
        CHECK ((actual IS NULL) = (actual_ts IS NULL)),
        CHECK ((ack_state IS NULL) = (ack_ts IS NULL))
      ) STRICT, WITHOUT ROWID;
    `);
  },
  // v2: history (devicetwin/store/history-write.ts, docs/telemetry.md).
  //
  // A commit appends its entries to `history_log`, a rowid table: every insert lands on its last
  // page, so a group dirties one or two pages however many series it touches. Inserting into a
  // table keyed by series instead dirties one page per series touched (measured: 1.4 µs an entry
  // appended, 6 µs keyed with 10 series per transaction, 12–15 µs with 100). Every second the
  // log is moved, sorted, into `history_raw` in batches (history-maintain.ts), where a batch
  // touches each series' page once for many entries.
  //
  // `history_raw` rows are keyed by the hour they fall in (`part` = ms / 3,600,000) first, so everything the
  // maintenance does — expire the oldest hours, fold an hour into buckets, trim to a size — is a
  // range of the primary key, never a scan, and costs no index on the hot path. A query reads
  // one series hour by hour (`part IN (…) AND series = ?`: one seek per hour). `off` is the ms
  // within the hour (3 bytes where a timestamp takes 6); `seq` tells apart two entries of one
  // series in the same ms (0 for all others, which SQLite stores in the record header alone).
  // `value` is ANY: REAL for numeric properties, TEXT otherwise, as bound.
  //
  // A series is (device, property, kind) interned to an integer. `history_buckets` holds the
  // downsampled tiers (1 = 1-minute, 2 = 1-hour buckets): count, min/max/sum of the numeric
  // values, and the last value with its offset. `history_parts` counts rows and estimated bytes
  // per hour and tier, updated in the same transactions as the rows: the size limit reads a
  // few hundred rows instead of measuring the tables.
  (db) => {
    db.exec(`
      CREATE TABLE history_series (
        id       INTEGER PRIMARY KEY,
        device   TEXT NOT NULL,
        property TEXT NOT NULL,
        kind     INTEGER NOT NULL,
        UNIQUE (device, property, kind)
      ) STRICT;

      CREATE TABLE history_log (
        id     INTEGER PRIMARY KEY,
        series INTEGER NOT NULL,
        ts     INTEGER NOT NULL,
        value  ANY NOT NULL
      ) STRICT;

      CREATE TABLE history_raw (
        part   INTEGER NOT NULL,
        series INTEGER NOT NULL,
        off    INTEGER NOT NULL,
        seq    INTEGER NOT NULL,
        value  ANY NOT NULL,
        PRIMARY KEY (part, series, off, seq)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE history_buckets (
        part     INTEGER NOT NULL,
        tier     INTEGER NOT NULL,
        series   INTEGER NOT NULL,
        off      INTEGER NOT NULL,
        n        INTEGER NOT NULL,
        min      REAL,
        max      REAL,
        sum      REAL,
        last     ANY NOT NULL,
        last_off INTEGER NOT NULL,
        PRIMARY KEY (part, tier, series, off)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE history_parts (
        part  INTEGER NOT NULL,
        tier  INTEGER NOT NULL,
        rows  INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (part, tier)
      ) STRICT, WITHOUT ROWID;
    `);
  },
];

/** The version this code writes: the length of the migration list. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database to `migrations.length`, one transaction per migration, and returns the
 * versions applied. Each step re-reads the version inside a write (IMMEDIATE) transaction, so two
 * processes opening the same new file cannot both run a migration. A database newer than the code
 * is refused: its rows may mean something this code does not know, and writing to it could
 * corrupt them.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const target = migrations.length;
  const applied: number[] = [];
  const step = db.transaction((): number | undefined => {
    const current = schemaVersion(db);
    if (current > target) {
      throw edgetwinError(
        'EDGETWIN_ERR_STORE_OPEN',
        `the database ${db.name} is at schema version ${current}, newer than this edgetwin knows (${target}); ` +
          'it was written by a newer edgetwin: upgrade edgetwin, or point it at another data directory',
      );
    }
    const migration = migrations[current];
    if (migration === undefined) return undefined;
    migration(db);
    // user_version takes no bound parameters; `current + 1` is an integer we computed.
    db.pragma(`user_version = ${current + 1}`);
    return current + 1;
  });
  // One migration per transaction, so a failure keeps the versions already reached.
  for (let version = step.immediate(); version !== undefined; version = step.immediate()) {
    applied.push(version);
  }
  return applied;
}
