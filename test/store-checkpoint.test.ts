// The compiled SqliteTwinStore (dist/), the one `edgetwin run` uses: its WAL checkpoints run in
// a worker thread (a worker runs JavaScript only, so the store tests beside the sources cover
// the in-commit checkpoints). It passes the same conformance suite, and the worker does
// checkpoint: committed pages reach the database file without a commit checkpointing.

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { device, twin, twinStoreConformance } from '../devicetwin/store/conformance.js';
import type * as Sqlite from '../devicetwin/store/sqlite.js';
import { REPO } from './helpers.js';
import { required } from './peers.js';

const COMPILED = path.join(REPO, 'dist', 'devicetwin', 'store', 'sqlite.js');
const compiled = required('the compiled store (dist/)', existsSync(COMPILED), 'npm run build') ? ((await import(COMPILED)) as typeof Sqlite) : undefined;

if (compiled) {
  // The suite's clock and history policy when it gives them; maintenance only when it asks.
  twinStoreConformance('SqliteTwinStore (compiled: WAL checkpoints in a worker)', (dir, env) =>
    new compiled.SqliteTwinStore({ path: path.join(dir, 'twins.db'), ...(env ? { clock: env.clock, history: env.history, historyMaintenanceMs: 0 } : {}) }));
}

describe.skipIf(!compiled)('WAL checkpoint worker', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-checkpoint-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('moves committed pages into the database file off the event loop', async () => {
    const file = path.join(dir, 'twins.db');
    const store = new compiled!.SqliteTwinStore({ path: file });
    await store.open();
    const before = statSync(file).size;
    for (let i = 0; i < 2000; i++) {
      await store.commit([{ kind: 'twins', device: device(`default/d${i}`, { temperature: twin({ actual: { value: String(i), timestamp: i } }) }) }]);
    }
    // The worker checkpoints every 500 ms: await the database file growing, with a deadline.
    const deadline = Date.now() + 10_000;
    while (statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(file).size).toBeGreaterThan(before);
    await store.close();
    // close() stops the worker and folds the WAL in: a reopened store sees every commit.
    const again = new compiled!.SqliteTwinStore({ path: file });
    expect((await again.open()).devices).toHaveLength(2000);
    await again.close();
  });
});
