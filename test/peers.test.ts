// The rule for outside peers (test/peers.ts): a test whose peer is missing skips locally and
// fails with CI=true, and the two install lists (`npm test`'s and CI's) name the same packages.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './helpers.js';
import { required } from './peers.js';

/** Runs vitest on one test file with `env`; resolves with its exit code and output. */
function vitest(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [path.join(REPO, 'node_modules', 'vitest', 'vitest.mjs'), 'run', file], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

describe('outside peers', () => {
  // A PATH with node and nothing else: mbpoll (and socat) cannot be found.
  const bin = mkdtempSync(path.join(tmpdir(), 'edgetwin-nopeers-'));
  symlinkSync(process.execPath, path.join(bin, 'node'));
  afterAll(() => rmSync(bin, { recursive: true, force: true }));
  const withoutPeers = (ci: boolean): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
    delete env.CI;
    if (ci) env.CI = 'true';
    return env;
  };

  it('required() passes what is present, skips what is missing, and throws naming the fix with CI=true', () => {
    const ci = process.env.CI;
    try {
      delete process.env.CI;
      expect(required('x', true, 'fix')).toBe(true);
      expect(required('x', false, 'fix')).toBe(false);
      process.env.CI = 'true';
      expect(() => required('the thing', false, 'apt-get install thing')).toThrow('CI=true and the thing is missing, so the tests that need it cannot run: apt-get install thing');
    } finally {
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
  });

  it('a test file whose peer is missing is skipped locally and fails the run with CI=true', async () => {
    const file = 'simulators/modbus/mbpoll.test.ts';
    const local = await vitest(file, withoutPeers(false));
    expect(local.code, local.out).toBe(0);
    expect(local.out).toMatch(/skipped/);
    const ci = await vitest(file, withoutPeers(true));
    expect(ci.code, ci.out).not.toBe(0);
    expect(ci.out).toContain('CI=true and mbpoll is missing');
  });

  it('npm test installs the same Debian packages as CI does', () => {
    const ci = readFileSync(path.join(REPO, '.ci', 'run'), 'utf8');
    const install = /apt-get install -y -qq --no-install-recommends \\\n([^>]+)>/.exec(ci)?.[1] ?? '';
    const local = /PEERS=\(([^)]*)\)/.exec(readFileSync(path.join(REPO, 'scripts', 'test.sh'), 'utf8'))?.[1] ?? '';
    const names = (text: string): string[] => text.split(/[\s\\]+/).filter(Boolean).sort();
    expect(names(local)).toEqual(names(install));
    expect(names(local)).toEqual(expect.arrayContaining(['python3-pymodbus', 'python3-serial', 'python3-serial-asyncio']));
  });
});
