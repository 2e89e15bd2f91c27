// CI's smoke run of the benchmark suite: `node dist/bench/run.js --quick` runs every benchmark
// (a–g) at tiny sizes, in the child processes the full run uses. Figures are not checked (the
// machine is shared), only that each benchmark ran to the end and produced finite numbers.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type * as Manifests from '../edgecore/manifests.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels } from '../schemas/index.js';
import { REPO, tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { BUILT } from './process.js';

function finiteNumbers(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.flatMap(finiteNumbers);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(finiteNumbers);
  return [];
}

describe.skipIf(!BUILT)('npm run bench -- --quick', () => {
  const tmp = tempDir('edgetwin-bench-smoke-');
  afterAll(() => tmp.cleanup());

  it('runs every benchmark at tiny sizes', { timeout: 400_000 }, async () => {
    const json = path.join(tmp.dir, 'bench.json');
    const child = spawn(process.execPath, [path.join(REPO, 'dist', 'bench', 'run.js'), '--quick', '--json', json], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let progress = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
      progress += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    const { results } = JSON.parse(readFileSync(json, 'utf8')) as { results: Record<string, unknown> };
    expect(Object.keys(results)).toEqual(['a', 'a2', 'b', 'cd', 'e', 'f', 'g', 'h', 'rw', 's1', 's2']);
    for (const id of ['a', 'a2', 'b', 'cd', 'e', 'g', 'h', 'rw', 's1', 's2']) {
      const numbers = finiteNumbers(results[id]);
      expect(numbers.length, id).toBeGreaterThan(0);
      expect(numbers.every(Number.isFinite), id).toBe(true);
    }
    // Progress as it goes (bench/progress.ts): a line per figure on stderr, with elapsed and left.
    const lines = progress.split('\n').filter((l) => /^\[[a-z0-9]+ #\d+ · /.test(l));
    expect(lines.length, progress).toBeGreaterThan(Object.keys(results).length);
    expect(lines.some((l) => l.includes('edgetwin, 10 publisher(s), QoS 1, run 1/1') && /(left|finishing)\]/.test(l)), progress).toBe(true);
    for (const id of Object.keys(results)) expect(progress).toContain(`section ${id} done`);
    for (const title of ['(a) Twin updates/s', '(a2) Twin updates/s with history on vs off', '(b) Latency', '(c) Memory', '(d) Restart', '(e0) Modbus', '(e1) Modbus', '(e2) Modbus', 'Cloud sync', '(g) External mode', '(h1) DMI', '(h2) DMI', '(rw) Remote write', '(s1) Sink cost', '(s2) Outage']) expect(out).toContain(title);
  });

  // The restart and memory figures depend on large manifest sets being parsed in a worker
  // (edgecore/manifests.ts); a worker runs only compiled JavaScript, hence dist/.
  it('the manifest worker yields what loadDevices does, errors included', async () => {
    const { loadManifests } = (await import(path.join(REPO, 'dist', 'edgecore', 'manifests.js'))) as typeof Manifests;
    const devices = path.join(tmp.dir, 'devices');
    writeManifests(devices, { 'a.yaml': thermostatManifest('a'), 'b.yaml': thermostatManifest('b', 'default', '    - name: nope\n'), 'c.yaml': thermostatManifest('a') });
    const models = loadModels([BUNDLED_MODELS_DIR]).models;
    const expected = loadDevices([devices], models);
    const load = loadManifests([devices], [BUNDLED_MODELS_DIR], models, 0);
    const got = await load.result;
    await load.cancel();
    expect(got.devices).toEqual(expected.devices);
    expect(got.errors.map((e) => [e.code, e.message])).toEqual(expected.errors.map((e) => [e.code, e.message]));
    expect(got.errors.length).toBeGreaterThan(0);
  });
});
