// Checkpoints the store's WAL from a second connection in a worker thread (sqlite.ts starts it),
// so a checkpoint's page copies and fsyncs block this thread instead of the event loop: run
// inside a commit, they held every answer for up to 10–35 ms (docs/benchmarks.md, table b).
// PASSIVE neither waits for nor blocks the writer (sqlite.org/c3ref/wal_checkpoint_v2.html).

import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointWorkerInput {
  readonly path: string;
  readonly synchronous: 'normal' | 'full';
  readonly intervalMs: number;
}

const input = workerData as CheckpointWorkerInput;
// No busy wait: a round that finds the database busy is skipped, the next one catches up.
const db = new Database(input.path, { timeout: 0 });
db.pragma(`synchronous = ${input.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY or a transient I/O error: the WAL keeps every frame, the next round retries.
  }
}, input.intervalMs);

parentPort?.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
