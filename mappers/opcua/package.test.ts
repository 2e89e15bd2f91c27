// mappers/opcua is a plugin package: it imports edgetwin only through its public entry points
// (never a relative path out of this folder), node-opcua only lazily (load.ts) or for types, and
// its package.json says what an outside plugin's would.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const here = (p: string): URL => new URL(p, import.meta.url);
const files = readdirSync(here('.')).filter((f) => f.endsWith('.ts'));

/** Each `import … from '…'` / `export … from '…'` line: its specifier and whether it is type-only. */
function specifiers(source: string): Array<{ spec: string; typeOnly: boolean }> {
  const found: Array<{ spec: string; typeOnly: boolean }> = [];
  for (const line of source.split('\n')) {
    const t = line.trimStart();
    if (!t.startsWith('import ') && !t.startsWith('export ')) continue;
    const at = t.lastIndexOf(" from '");
    if (at < 0) continue;
    const spec = t.slice(at + 7, t.indexOf("'", at + 7));
    found.push({ spec, typeOnly: t.startsWith('import type ') || t.startsWith('export type ') });
  }
  return found;
}
const ALLOWED = new Set(['edgetwin', 'edgetwin/sdk', 'edgetwin/testing', 'node-opcua', 'vitest', 'pino']);

describe('@edgetwin/mapper-opcua as a plugin package', () => {
  it.each(files)('%s imports only its own files, node:*, edgetwin entry points and its dependencies', (file) => {
    const source = readFileSync(here(file), 'utf8');
    const found = specifiers(source);
    for (const { spec, typeOnly } of found) {
      if (spec.startsWith('./')) expect(spec).not.toContain('..');
      else if (!spec.startsWith('node:')) expect(ALLOWED.has(spec), `${file}: ${spec}`).toBe(true);
      // node-opcua costs seconds to import: only types statically, the module through load.ts.
      if (spec === 'node-opcua' && !file.endsWith('.test.ts')) expect(typeOnly, `${file} imports node-opcua eagerly`).toBe(true);
      if (spec === 'vitest') expect(file).toMatch(/\.test(?:-support)?\.ts$/);
    }
    expect(source).not.toMatch(/from\s+'\.\.\//);
  });

  it('has a package.json of its own: ESM, edgetwin as a peer, node-opcua as a dependency', () => {
    const pkg = JSON.parse(readFileSync(here('package.json'), 'utf8')) as Record<string, Record<string, string> | string>;
    expect(pkg).toMatchObject({ name: '@edgetwin/mapper-opcua', type: 'module', peerDependencies: { edgetwin: expect.any(String) }, dependencies: { 'node-opcua': '2.182.2' } });
  });
});
