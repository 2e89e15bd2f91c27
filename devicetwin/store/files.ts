// Telling a new store from a lost one. SQLite opens a missing or zero-length file as a new,
// empty database, and opens a file cut short at a page boundary without complaint: either way a
// node would come up with no twins and answer as if it never had any. So the store leaves a
// marker beside its file once it has created it, and checks the file before SQLite sees it.

import { closeSync, mkdirSync, openSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { edgetwinError } from '../../errors.js';

/** Written beside the database once it exists: from then on, an empty or missing file is a loss. */
export function markerOf(path: string): string {
  return `${path}.created`;
}

/** The header fields https://www.sqlite.org/fileformat2.html#the_database_header defines. */
const HEADER_BYTES = 100;
const MAGIC = 'SQLite format 3\u0000';

/**
 * Throws EDGETWIN_ERR_STORE_DAMAGED when the store at `path` was created before (its marker is
 * there) but its file is missing or empty, or when its file is shorter than its header says and
 * there is no write-ahead log that could still hold the rest. A new store (no marker) passes, and
 * so does anything SQLite itself will diagnose (not a database, corrupt pages).
 */
export function checkStoreFile(path: string): void {
  const size = sizeOf(path);
  const marker = markerOf(path);
  // The WAL holds commits the main file may not have yet: all of them until the first checkpoint
  // (the file can still be empty then), or the pages of a checkpoint a crash interrupted.
  // SQLite replays it on open.
  const wal = size !== undefined && (sizeOf(`${path}-wal`) ?? 0) > 0;
  if (size === undefined || (size === 0 && !wal)) {
    if (sizeOf(marker) === undefined) return; // a new store (or a first start killed before it was created)
    const what = size === undefined ? 'is missing' : 'is empty (0 bytes)';
    throw damaged(path, `${what}, but this data directory has held a store (${basename(marker)} is there)`);
  }
  if (wal) return;
  const header = readHeader(path);
  const magic = header.toString('latin1', 0, Math.min(header.length, MAGIC.length));
  if (!MAGIC.startsWith(magic) || magic === '') return; // not SQLite's: SQLite reports "not a database"
  if (header.length < HEADER_BYTES) {
    throw damaged(path, `is ${size} bytes, shorter than an SQLite header: it was cut short`);
  }
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = header.readUInt32BE(28);
  // The in-header size is valid only when its version-valid-for number matches the change counter.
  const valid = pages > 0 && header.readUInt32BE(92) === header.readUInt32BE(24);
  if (valid && size < pages * pageSize) {
    throw damaged(path, `is ${size} bytes, but its header says ${pages} pages of ${pageSize} bytes (${pages * pageSize}): it was cut short`);
  }
}

/** Records that the store at `path` exists; written once, after its schema is committed. */
export function markStoreCreated(path: string): void {
  const marker = markerOf(path);
  if (sizeOf(marker) !== undefined) return;
  const text = `${JSON.stringify({ store: basename(path), created: new Date().toISOString() })}\n` +
    `# edgetwin: ${basename(path)} was created here. If it goes missing or empty, edgetwin refuses to start\n` +
    '# instead of starting with no twins. To start afresh on purpose, delete this file too.\n';
  // Written whole or not at all: a half-written marker must not be mistaken for none.
  writeFileSync(`${marker}.tmp`, text);
  renameSync(`${marker}.tmp`, marker);
}

function damaged(path: string, what: string): Error {
  return edgetwinError(
    'EDGETWIN_ERR_STORE_DAMAGED',
    `the store ${path} ${what}. edgetwin does not start with an empty store in its place: restore the file from a backup, ` +
      `or, to start with no twins, move it aside together with ${basename(markerOf(path))}`,
  );
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The first HEADER_BYTES of the file, or fewer if it is shorter. */
function readHeader(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    return header.subarray(0, readSync(fd, header, 0, HEADER_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * `mkdir -p` that fails instead of spinning. Node's recursive mkdir takes ENOENT to mean "the
 * parent is missing", creates the parent (EEXIST) and retries for ever where a parent exists but
 * cannot hold children: procfs answers ENOENT for `/proc/x` (https://github.com/nodejs/node/issues/27198
 * is the same loop on Windows). Here each missing level is created once, top down, and the first
 * failure is thrown.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) throw err;
      missing.push(at);
      continue;
    }
    if (!isDirectory) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}' (${at} is a file)`), { code: 'ENOTDIR' });
    break;
  }
  for (const at of missing.reverse()) {
    try {
      mkdirSync(at);
    } catch (err) {
      // Another process may create it meanwhile; anything else is final.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(at).isDirectory()) throw err;
    }
  }
}
