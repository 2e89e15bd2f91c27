import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { migrate, MIGRATIONS, SCHEMA_VERSION, schemaVersion, type Migration } from './schema.js';

const tables = (db: Database.Database): unknown[] =>
  db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();

// Each synthetic migration fails if run twice (CREATE TABLE without IF NOT EXISTS).
const m1: Migration = (db) => db.exec('CREATE TABLE one (x INTEGER)');
const m2: Migration = (db) => db.exec('CREATE TABLE two (y INTEGER); INSERT INTO one VALUES (2)');

describe('migrate', () => {
  it('takes a new database to the latest version, one step at a time', () => {
    const db = new Database(':memory:');
    expect(migrate(db, [m1, m2])).toEqual([1, 2]);
    expect(schemaVersion(db)).toBe(2);
    expect(tables(db)).toEqual(['one', 'two']);
  });

  it('migrates a database at an older version and keeps its rows', () => {
    const db = new Database(':memory:');
    migrate(db, [m1]);
    db.exec('INSERT INTO one VALUES (1)');
    expect(migrate(db, [m1, m2])).toEqual([2]);
    expect(db.prepare('SELECT x FROM one ORDER BY x').pluck().all()).toEqual([1, 2]);
    expect(migrate(db, [m1, m2])).toEqual([]);
  });

  it('rolls a failing migration back and keeps the version reached before it', () => {
    const db = new Database(':memory:');
    const broken: Migration = (d) => {
      d.exec('CREATE TABLE half (z INTEGER)');
      throw new Error('boom');
    };
    expect(() => migrate(db, [m1, broken])).toThrow('boom');
    expect(schemaVersion(db)).toBe(1);
    expect(tables(db)).toEqual(['one']);
  });

  it('refuses a database newer than the code with EDGETWIN_ERR_STORE_OPEN', () => {
    const db = new Database(':memory:');
    db.pragma('user_version = 3');
    expect(() => migrate(db, [m1, m2])).toThrow(expect.objectContaining({
      code: 'EDGETWIN_ERR_STORE_OPEN',
      message: expect.stringContaining('schema version 3, newer than this edgetwin knows (2)'),
    }));
    expect(tables(db)).toEqual([]);
  });

  it('builds the real schema', () => {
    const db = new Database(':memory:');
    expect(migrate(db)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(tables(db)).toEqual(['devices', 'history_buckets', 'history_log', 'history_parts', 'history_raw', 'history_series', 'members', 'twins']);
  });
});
