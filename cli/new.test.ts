// The generator without npm: what it writes, and what it refuses (test/generator.test.ts installs
// and tests a generated package for real).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isEdgetwinError } from '../errors.js';
import { main } from './main.js';
import { newMapper } from './new.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'edgetwin-new-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('edgetwin new mapper', () => {
  it('writes the package with every placeholder filled', () => {
    const dir = path.join(tmp(), 'pkg');
    const r = newMapper('acme-json', { dir, edgetwin: 'file:/x/edgetwin.tgz' });
    expect(r.packageName).toBe('edgetwin-mapper-acme-json');
    expect(r.files).toEqual(expect.arrayContaining(['.gitignore', 'package.json', 'src/driver.ts', 'src/index.ts', 'models/acme-json-sensor.json', 'manifests/acme-json-1.yaml', 'test/conformance.test.ts', 'README.md']));
    for (const f of r.files) expect(readFileSync(path.join(dir, f), 'utf8'), f).not.toMatch(/\{\{\w+\}\}/);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies.edgetwin).toBe('file:/x/edgetwin.tgz');
    expect(readFileSync(path.join(dir, 'src/driver.ts'), 'utf8')).toContain("protocol: 'acme-json'");
    expect(readFileSync(path.join(dir, 'src/driver.ts'), 'utf8')).toContain('export const acmeJsonMapper: MapperFactory<AcmeJsonProtocol, AcmeJsonVisitor>');
  });

  it.each(['Foo', '1abc', 'a--b', 'a_b', '-a', 'a'.repeat(41), '../x'])('refuses the name %j with EDGETWIN_ERR_CLI_USAGE and writes nothing', (name) => {
    const dir = path.join(tmp(), 'pkg');
    expect(() => newMapper(name, { dir })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_CLI_USAGE' }));
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a folder that is not empty and leaves it as it was', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'keep.txt'), 'mine');
    let err: unknown;
    try {
      newMapper('foo', { dir });
    } catch (e) {
      err = e;
    }
    expect(isEdgetwinError(err) && err.code).toBe('EDGETWIN_ERR_NEW_TARGET_EXISTS');
    expect(readdirSync(dir)).toEqual(['keep.txt']);
  });

  it('`edgetwin --version` prints package.json\'s version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
    try {
      expect(await main(['--version'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('').trim()).toBe(pkg.version);
  });
});
