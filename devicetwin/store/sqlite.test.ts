import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { StoreChange } from '../types.js';
import { device, member, twin, twinStoreConformance, type StoreEnv } from './conformance.js';
import { SCHEMA_VERSION } from './schema.js';
import { SqliteTwinStore, type SqliteTwinStoreOptions } from './sqlite.js';

// The env's clock and policy; maintenance only when the suite asks for it.
const withEnv = (env: StoreEnv | undefined): Partial<SqliteTwinStoreOptions> => (env ? { clock: env.clock, history: env.history, historyMaintenanceMs: 0 } : {});
twinStoreConformance('SqliteTwinStore', (dir, env) => new SqliteTwinStore({ path: join(dir, 'twins.db'), ...withEnv(env) }));
twinStoreConformance('SqliteTwinStore (synchronous=full)', (dir, env) =>
  new SqliteTwinStore({ path: join(dir, 'twins.db'), synchronous: 'full', ...withEnv(env) }));

describe('SqliteTwinStore', () => {
  let dir = '';
  const stores: SqliteTwinStore[] = [];
  const make = (options: Partial<SqliteTwinStoreOptions> = {}): SqliteTwinStore => {
    const store = new SqliteTwinStore({ path: join(dir, 'twins.db'), ...options });
    stores.push(store);
    return store;
  };
  /** A second connection to the same file, as an operator's sqlite3 shell would be. */
  const peer = (): Database.Database => new Database(join(dir, 'twins.db'));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgetwin-sqlite-'));
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the parent directory and uses WAL with foreign keys enforced', async () => {
    const store = new SqliteTwinStore({ path: join(dir, 'a', 'b', 'twins.db') });
    stores.push(store);
    await store.open();
    const db = new Database(join(dir, 'a', 'b', 'twins.db'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('foreign_key_list(twins)')).toEqual([expect.objectContaining({ table: 'devices', on_delete: 'CASCADE' })]);
    db.close();
  });

  it('refuses a database from a newer edgetwin with EDGETWIN_ERR_STORE_OPEN and leaves it untouched', async () => {
    const db = peer();
    db.exec('CREATE TABLE future (x INTEGER)');
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(make().open()).rejects.toMatchObject({
      code: 'EDGETWIN_ERR_STORE_OPEN',
      message: expect.stringContaining('newer than this edgetwin knows'),
    });
    const after = peer();
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    after.close();
  });

  it('reports a file that is not a database with EDGETWIN_ERR_STORE_OPEN and what to do', async () => {
    writeFileSync(join(dir, 'twins.db'), 'not a database, just some text that is long enough to have a header'.repeat(20));
    await expect(make().open()).rejects.toMatchObject({
      code: 'EDGETWIN_ERR_STORE_OPEN',
      message: expect.stringContaining('move it aside'),
      cause: expect.objectContaining({ code: 'SQLITE_NOTADB' }),
    });
  });

  it('reports an unknown stored value with EDGETWIN_ERR_STORE_OPEN', async () => {
    const store = make();
    await store.open();
    await store.commit([{ kind: 'twins', device: device('ns/a', { t: twin() }) }]);
    await store.close();
    const db = peer();
    db.exec("UPDATE twins SET type = 'quaternion'");
    db.close();
    await expect(make().open()).rejects.toMatchObject({
      code: 'EDGETWIN_ERR_STORE_OPEN',
      message: expect.stringContaining("twin ns/a t has unknown type 'quaternion'"),
    });
  });

  it('refuses to be opened twice, and pragmas the store owns', async () => {
    const store = make();
    await store.open();
    await expect(store.open()).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_OPEN' });
    await expect(make({ pragmas: { synchronous: 'OFF' } }).open()).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_OPEN' });
    await expect(make({ pragmas: { 'cache_size; DROP TABLE twins': 1 } }).open()).rejects.toMatchObject({
      code: 'EDGETWIN_ERR_STORE_OPEN',
    });
  });

  it('a full disk rejects each change that needs space with EDGETWIN_ERR_STORE_WRITE and applies nothing of it; the rest of its group commits', async () => {
    // max_page_count caps the file as a full disk would, and fails with the same SQLITE_FULL.
    // (Until the retry alone below, one change that did not fit failed its whole group commit,
    // so under a burst of resends even changes that fit were refused.)
    const store = make({ pragmas: { max_page_count: 32 } });
    await store.open();
    const kept = device('ns/kept', { t: twin({ actual: { value: '1', timestamp: 1 } }) });
    await store.commit([{ kind: 'twins', device: kept }]);

    const big = 'x'.repeat(2000);
    const group: Promise<void>[] = [];
    group.push(store.commit([{ kind: 'member', entry: member('ns/small') }]));
    for (let i = 0; i < 100; i++) {
      group.push(store.commit([{ kind: 'twins', device: device(`ns/big-${i}`, { t: twin({ actual: { value: big, timestamp: 1 } }) }) }]));
    }
    group.push(store.commit([{ kind: 'unmember', id: kept.id }]));
    const results = await Promise.allSettled(group);
    const refused = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    expect(refused.length).toBeGreaterThan(50); // 32 pages hold a few of 100 × 2 kB
    expect(results[refused[0]!]).toMatchObject({
      status: 'rejected',
      reason: {
        code: 'EDGETWIN_ERR_STORE_WRITE',
        message: expect.stringContaining('the disk is full'),
        cause: expect.objectContaining({ code: 'SQLITE_FULL' }),
      },
    });
    expect(results[0]).toMatchObject({ status: 'fulfilled' }); // the member fits
    expect(results.at(-1)).toMatchObject({ status: 'fulfilled' }); // a delete needs no page

    // Still usable, and each change is all or nothing: a refused one left no trace.
    const after = device('ns/after', { t: twin() });
    await store.commit([{ kind: 'twins', device: after }]);
    await store.close();
    const { devices, members } = await make().open();
    const committed = results.flatMap((r, i) => (r.status === 'fulfilled' && i > 0 && i <= 100 ? [`ns/big-${i - 1}`] : []));
    expect(devices.map((d) => d.id).sort()).toEqual(['ns/after', ...committed].sort());
    for (const d of devices) if (d.id.startsWith('ns/big-')) expect(d.twins.t?.actual?.value).toBe(big);
    expect(members.map((m) => m.id)).toEqual(['ns/small']);
  });

  it('a lock held by another process fails the group with SQLITE_BUSY; the next group succeeds', async () => {
    const store = make({ pragmas: { busy_timeout: 10 } });
    await store.open();
    const other = peer();
    other.exec('BEGIN IMMEDIATE');
    const change: StoreChange = { kind: 'twins', device: device('ns/a', { t: twin() }) };
    await expect(store.commit([change])).rejects.toMatchObject({
      code: 'EDGETWIN_ERR_STORE_WRITE',
      message: expect.stringContaining('another process holds a lock'),
      cause: expect.objectContaining({ code: 'SQLITE_BUSY' }),
    });
    other.exec('ROLLBACK');
    other.close();
    await store.commit([change]);
    await store.close();
    expect((await make().open()).devices).toEqual([change.device]);
  });

  it('on a full disk, a change that needs a new page fails alone: the others of its group that fit commit', async () => {
    const first = make();
    await first.open();
    await first.commit([{ kind: 'twins', device: device('default/small', { t: twin({ actual: { value: '1', timestamp: 1 } }) }) }]);
    await first.close();
    const db = peer();
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.close();
    const full = make({ pragmas: { max_page_count: pages } });
    await full.open();
    // Queued in one tick: one group commit, of which only the big one needs space.
    const big = full.commit([{ kind: 'twins', device: device('default/big', { t: twin({ actual: { value: 'x'.repeat(20_000), timestamp: 2 } }) }) }]);
    const fits = full.commit([{ kind: 'twins', device: device('default/small', { t: twin({ actual: { value: '2', timestamp: 3 } }) }, 2) }]);
    await expect(big).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_WRITE', message: expect.stringMatching(/disk is full/) });
    await expect(fits).resolves.toBeUndefined();
    await full.close();
    const data = await make().open();
    expect(data.devices.map((d) => [d.id, d.twins.t?.actual?.value])).toEqual([['default/small', '2']]);
  });

  // root ignores file modes, so this runs only for an ordinary user.
  it.skipIf(process.getuid?.() === 0)('a read-only directory fails the open with EDGETWIN_ERR_STORE_OPEN', async () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    await expect(new SqliteTwinStore({ path: join(ro, 'twins.db') }).open()).rejects.toMatchObject({
      code: 'EDGETWIN_ERR_STORE_OPEN',
    });
    chmodSync(ro, 0o700);
  });
});
