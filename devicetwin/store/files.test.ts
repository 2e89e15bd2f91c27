import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkStoreFile, makeDirectory, markerOf } from './files.js';
import { SqliteTwinStore } from './sqlite.js';

describe('store files', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgetwin-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a new store leaves its marker; a used one that is emptied, deleted or cut short is EDGETWIN_ERR_STORE_DAMAGED', async () => {
    const file = join(dir, 'edgetwin.db');
    const store = new SqliteTwinStore({ path: file });
    await store.open();
    await store.commit([{ kind: 'member', entry: { id: 'default/a', namespace: 'default', name: 'a', model: 'm', origin: 'manifest', description: 'x'.repeat(9000) } }]);
    await store.close();
    expect(readFileSync(markerOf(file), 'utf8')).toMatch(/"store":"edgetwin.db"/);
    const whole = readFileSync(file);
    for (const damage of [() => truncateSync(file, 0), () => rmSync(file), () => truncateSync(file, whole.length - 1), () => truncateSync(file, 99)]) {
      writeFileSync(file, whole);
      damage();
      await expect(new SqliteTwinStore({ path: file }).open()).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_DAMAGED' });
    }
    writeFileSync(file, whole);
    const again = new SqliteTwinStore({ path: file });
    expect((await again.open()).members).toHaveLength(1);
    await again.close();
  });

  it('passes a new store, an empty file with no marker, and a short file whose WAL can still replay', () => {
    const file = join(dir, 'edgetwin.db');
    expect(() => checkStoreFile(file)).not.toThrow();
    writeFileSync(file, '');
    expect(() => checkStoreFile(file)).not.toThrow(); // a first start killed before it created the store
    writeFileSync(markerOf(file), '{}');
    expect(() => checkStoreFile(file)).toThrow(/is empty/);
    // Until the first checkpoint every commit is in the WAL; a crash then leaves exactly this.
    writeFileSync(`${file}-wal`, 'frames');
    expect(() => checkStoreFile(file)).not.toThrow();
  });

  it('makeDirectory creates missing levels and fails at once where Node spins', () => {
    const nested = join(dir, 'a', 'b', 'c');
    makeDirectory(nested);
    expect(statSync(nested).isDirectory()).toBe(true);
    makeDirectory(nested); // exists: nothing to do
    expect(() => makeDirectory('/proc/edgetwin-test/x')).toThrow(/ENOENT/);
    writeFileSync(join(dir, 'file'), '');
    expect(() => makeDirectory(join(dir, 'file', 'x'))).toThrow(/ENOTDIR/);
    expect(existsSync('/proc/edgetwin-test')).toBe(false);
  });
});
