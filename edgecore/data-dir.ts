// The data directory: created without the recursive-mkdir spin, checked writable, and owned by
// one process at a time. Two edgetwin processes on one store each answer from their own memory
// and overwrite each other's commits, so a change one of them acknowledged can be gone after a
// restart. The owner holds an SQLite EXCLUSIVE lock on `edgetwin.lock` (fcntl locks underneath,
// https://www.sqlite.org/lockingv3.html): the kernel drops it when the process dies, however it
// dies, so a crash leaves no stale lock behind and a PID that was reused cannot fool it.

import { accessSync, constants, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { edgetwinError, isEdgetwinError } from '../errors.js';
import { makeDirectory } from '../devicetwin/index.js';

const LOCK_FILE = 'edgetwin.lock';
/** Who holds the lock, for the refusal message: the lock itself cannot be read while it is held. */
const OWNER_FILE = 'edgetwin.pid';

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

export class DataDir {
  readonly dir: string;
  private lock: Database.Database | undefined;

  private constructor(dir: string, lock: Database.Database) {
    this.dir = dir;
    this.lock = lock;
  }

  /**
   * Creates `dir` if missing and takes it for this process. Throws EDGETWIN_ERR_DATA_DIR when it
   * cannot be created or written, EDGETWIN_ERR_DATA_DIR_LOCKED when another process holds it.
   */
  static open(dir: string): DataDir {
    try {
      makeDirectory(dir);
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw unusable(dir, err);
    }
    const lock = acquire(dir);
    const owner: Owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    try {
      writeFileSync(path.join(dir, OWNER_FILE), `${JSON.stringify(owner)}\n`);
    } catch (err) {
      lock.close();
      throw unusable(dir, err);
    }
    return new DataDir(dir, lock);
  }

  /** Lets the next process in; idempotent. The owner file goes first, so it never names a stranger. */
  release(): void {
    const lock = this.lock;
    if (!lock) return;
    this.lock = undefined;
    rmSync(path.join(this.dir, OWNER_FILE), { force: true });
    lock.close();
  }
}

function acquire(dir: string): Database.Database {
  const file = path.join(dir, LOCK_FILE);
  let db: Database.Database | undefined;
  try {
    // timeout 0: a held lock is an answer, not something to wait for.
    db = new Database(file, { timeout: 0 });
    // EXCLUSIVE locking mode keeps the lock the first write takes until the connection closes;
    // no journal file is needed for a one-row table nobody else may read.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL, host TEXT NOT NULL, since TEXT NOT NULL)');
    db.exec('DELETE FROM owner');
    db.prepare('INSERT INTO owner VALUES (?, ?, ?)').run(process.pid, hostname(), new Date().toISOString());
    db.exec('COMMIT');
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY')) throw locked(dir);
    throw unusable(dir, err);
  }
}

function locked(dir: string): Error {
  const owner = readOwner(dir);
  const who = owner ? `process ${owner.pid}${owner.host === hostname() ? '' : ` on ${owner.host}`} (running since ${owner.since})` : 'another process';
  return edgetwinError(
    'EDGETWIN_ERR_DATA_DIR_LOCKED',
    `the data directory ${dir} is in use by edgetwin ${who}; two processes on one store lose acknowledged changes. ` +
      'Stop the other one, or give this one its own --data-dir',
  );
}

function readOwner(dir: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as Partial<Owner>;
    return typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.since === 'string' ? { pid: o.pid, host: o.host, since: o.since } : undefined;
  } catch {
    return undefined; // the owner is between taking the lock and writing the file
  }
}

function unusable(dir: string, err: unknown): Error {
  if (isEdgetwinError(err)) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const reason = err instanceof Error ? err.message : String(err);
  const kernel = /^\/(proc|sys)(\/|$)/.exec(path.resolve(dir))?.[1];
  const hint = kernel !== undefined
    ? `/${kernel} is a kernel file system that cannot hold files`
    : code === 'EACCES' || code === 'EPERM' ? 'edgetwin may not write there: check the owner and mode'
      : code === 'EROFS' ? 'the file system is mounted read-only'
        : code === 'ENOSPC' ? 'the disk is full'
          : code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is in the way'
            : 'check the path';
  return edgetwinError('EDGETWIN_ERR_DATA_DIR', `cannot use ${dir} as the data directory (${reason}): ${hint}. Set dataDir or --data-dir to a writable directory`, [], err);
}
