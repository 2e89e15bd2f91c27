// edgetwin as a package: `npm pack`, the tarball installed into a fresh package outside this
// repository, and a mapper built there against the public entry points only (`edgetwin`,
// `edgetwin/sdk`, `edgetwin/testing`) that passes the conformance suite. The mapper is
// examples/http-mapper, copied verbatim: it imports nothing but those entry points.

import { builtinModules } from 'node:module';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePeer } from './peers.js';
import { INSTALL_FLAGS, ok, packEdgetwin, REPO, repoPackage, run } from './pack-helpers.js';

const BARE_IMPORT = /\bfrom '([^'./][^']*)'|\bimport\('([^'./][^']*)'\)/g;

/** The package a bare specifier names: `@a/b/c` → `@a/b`, `x/y` → `x`. */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function bareImports(dir: string, ext: RegExp): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const p = path.join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else if (ext.test(entry)) for (const m of readFileSync(p, 'utf8').matchAll(BARE_IMPORT)) found.set(m[1] ?? m[2]!, path.relative(dir, p));
    }
  };
  walk(dir);
  return found;
}

describe.skipIf(!requirePeer('npm-registry', 'built'))('the packed package, installed into a fresh package', () => {
  let tmp: string;
  let tgz: string;
  let consumer: string;
  const pkg = repoPackage();

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'edgetwin-pack-'));
    tgz = await packEdgetwin(tmp);
    consumer = path.join(tmp, 'consumer');
    mkdirSync(path.join(consumer, 'src'), { recursive: true });
    const dev = pkg.devDependencies;
    writeFileSync(
      path.join(consumer, 'package.json'),
      JSON.stringify({
        name: 'outside-mapper',
        version: '1.0.0',
        private: true,
        type: 'module',
        devDependencies: { edgetwin: `file:${tgz}`, vitest: dev.vitest, typescript: dev.typescript, '@types/node': dev['@types/node'] },
      }),
    );
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', lib: ['ES2023'], module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], strict: true, skipLibCheck: true, outDir: 'dist', rootDir: 'src' },
        include: ['src'],
      }),
    );
    for (const f of ['mapper.ts', 'device.ts', 'mapper.test.ts']) copyFileSync(path.join(REPO, 'examples', 'http-mapper', f), path.join(consumer, 'src', f));
    ok(await run('npm', ['install', ...INSTALL_FLAGS], consumer), 'npm install (the tarball, vitest, typescript)');
  }, 600_000);

  // Hundreds of installed packages: removing them takes a while on a loaded machine.
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, 120_000);

  it('holds dist/, the bin, the templates and runtime assets, and no tests, sources or data', async () => {
    const list = ok(await run('tar', ['-tzf', tgz], tmp), 'tar -tzf').stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    for (const f of ['dist/index.js', 'dist/sdk.js', 'dist/testing.js', 'dist/sdk.d.ts', 'dist/cli/main.js', 'dist/cli/new.js', 'bin/edgetwin.js', 'dmi/api.proto', 'schemas/models/thermostat.json', 'templates/mapper/package.json.tmpl', 'README.md']) {
      expect(list, f).toContain(f);
    }
    expect(list.filter((f) => !f.startsWith('templates/') && /\.test\.|(^|\/)test\/|^dist\/bench\/|\.map$|(^|\/)data\/|node_modules\//.test(f))).toEqual([]);
    expect(list.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    // The generator's templates end in .tmpl, so no tool compiles, lints or runs them as code.
    expect(list.filter((f) => f.startsWith('templates/') && !f.endsWith('.tmpl'))).toEqual([]);
    expect(statSync(tgz).size).toBeLessThan(2 * 1024 * 1024);
  });

  it('imports, from every file of dist/, only Node built-ins, its dependencies and (edgetwin/testing) the optional peer vitest', () => {
    const installed = path.join(consumer, 'node_modules', 'edgetwin');
    const deps = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const stray = [...bareImports(path.join(installed, 'dist'), /\.js$/)]
      .filter(([spec]) => !spec.startsWith('node:') && !builtins.has(spec) && !deps.has(packageOf(spec)) && packageOf(spec) !== 'edgetwin')
      .filter(([spec, file]) => !(spec === 'vitest' && /conformance\.js$/.test(file)));
    expect(stray).toEqual([]);
    expect(pkg.peerDependencies).toMatchObject({ vitest: expect.any(String) });
    expect(Object.keys(pkg.dependencies)).not.toContain('vitest');
  });

  it('builds a mapper that imports only the public entry points, and the mapper passes the conformance suite', async () => {
    const imports = [...bareImports(path.join(consumer, 'src'), /\.ts$/).keys()];
    expect(imports.filter((s) => !['edgetwin', 'edgetwin/sdk', 'edgetwin/testing', 'vitest'].includes(s) && !s.startsWith('node:'))).toEqual([]);
    expect(imports).toEqual(expect.arrayContaining(['edgetwin', 'edgetwin/sdk', 'edgetwin/testing']));

    ok(await run('npx', ['tsc', '-p', 'tsconfig.json'], consumer), 'tsc');
    expect(readdirSync(path.join(consumer, 'dist'))).toContain('mapper.js');

    const report = path.join(tmp, 'vitest-report.json');
    ok(await run('npx', ['vitest', 'run', '--reporter=json', `--outputFile=${report}`], consumer), 'vitest run');
    const r = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number; testResults: Array<{ assertionResults: Array<{ fullName: string }> }> };
    expect(r.numFailedTests).toBe(0);
    const names = r.testResults.flatMap((t) => t.assertionResults.map((a) => a.fullName));
    expect(names.some((n) => n.includes('mapper conformance') && n.includes('DMI'))).toBe(true);
    expect(r.numPassedTests).toBeGreaterThanOrEqual(15);
  }, 300_000);
});
