// `npm install -g <tarball>` into a fresh prefix gives a working `edgetwin` outside this
// repository: --version is package.json's, and `edgetwin new mapper` writes a package whose own
// `npm install && npm test` (type-check, the conformance suite, the plugin over MQTT) is green.

import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePeer } from './peers.js';
import { INSTALL_FLAGS, ok, packEdgetwin, repoPackage, run } from './pack-helpers.js';

describe.skipIf(!requirePeer('npm-registry', 'built'))('edgetwin installed globally from the tarball', () => {
  let tmp: string;
  let tgz: string;
  let prefix: string;
  let bin: string;
  let work: string;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'edgetwin-gen-'));
    tgz = await packEdgetwin(tmp);
    prefix = path.join(tmp, 'prefix');
    ok(await run('npm', ['install', '-g', '--prefix', prefix, tgz, ...INSTALL_FLAGS], tmp), 'npm install -g');
    bin = path.join(prefix, 'bin', 'edgetwin');
    // Somewhere that is neither this repository nor the prefix.
    work = path.join(tmp, 'work');
    mkdirSync(work);
  }, 600_000);

  // Hundreds of installed packages: removing them takes a while on a loaded machine.
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, 120_000);

  it("prints package.json's version", async () => {
    const r = ok(await run(bin, ['--version'], work), 'edgetwin --version');
    expect(r.stdout.trim()).toBe(repoPackage().version);
  });

  it('loads edgetwin and edgetwin/sdk with its dependencies alone; edgetwin/testing asks for the vitest peer', async () => {
    const root = path.join(prefix, 'lib', 'node_modules', 'edgetwin');
    expect(existsSync(path.join(root, 'node_modules', 'vitest'))).toBe(false);
    const probe = (entry: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(path.join(root, entry))}); console.log(Object.keys(m).length)`], work);
    for (const entry of ['dist/index.js', 'dist/sdk.js']) {
      const r = ok(await probe(entry), `import ${entry}`);
      expect(Number(r.stdout.trim()), entry).toBeGreaterThan(5);
    }
    const testing = await probe('dist/testing.js');
    expect(testing.code).not.toBe(0);
    expect(testing.stderr).toMatch(/vitest/);
  });

  it('`edgetwin new mapper` writes a package whose npm test passes as generated', async () => {
    const dir = path.join(work, 'thermo-json');
    const made = ok(await run(bin, ['new', 'mapper', 'thermo-json', '--dir', dir, '--edgetwin', `file:${tgz}`], work), 'edgetwin new mapper');
    expect(made.stdout).toContain('created edgetwin-mapper-thermo-json');
    for (const f of ['package.json', 'README.md', '.gitignore', 'src/index.ts', 'src/driver.ts', 'models/thermo-json-sensor.json', 'manifests/thermo-json-1.yaml', 'test/conformance.test.ts']) {
      expect(existsSync(path.join(dir, f)), f).toBe(true);
    }
    const generated = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
    expect(generated.peerDependencies.edgetwin).toBe(`^${repoPackage().version}`);

    ok(await run('npm', ['install', ...INSTALL_FLAGS], dir), 'npm install (generated package)');
    const test = ok(await run('npm', ['test'], dir), 'npm test (generated package)');
    expect(`${test.stdout}${test.stderr}`).toMatch(/Tests {1,9}\d+ passed/);
    expect(`${test.stdout}${test.stderr}`).not.toMatch(/\bfailed\b/);

    // A second run on the same folder refuses and changes nothing.
    const again = await run(bin, ['new', 'mapper', 'thermo-json', '--dir', dir], work);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('EDGETWIN_ERR_NEW_TARGET_EXISTS');
  }, 600_000);
});
