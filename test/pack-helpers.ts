// edgetwin as an outside user gets it: `npm pack` of this repository (its `prepare` builds dist/),
// then npm installs of the tarball into folders outside the repository. Used by
// test/pack.test.ts and test/generator.test.ts; they need the npm registry (test/peers.ts).
//
// Installs pass --ignore-scripts: nothing that these tests run loads a native addon (the SQLite
// store, serial ports and the Bluetooth socket are loaded lazily), and compiling better-sqlite3
// and the Bluetooth socket from source takes minutes on a loaded machine.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '..');

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end (no shell), with a deadline; never rejects on a non-zero exit. */
export function run(command: string, args: readonly string[], cwd: string, timeoutMs = 280_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // npm_config_* from an outer `npm test` would point the inner npm at this repository; an
    // outer vitest's FORCE_COLOR would colour the inner output the tests read.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'INIT_CWD' && k !== 'FORCE_COLOR'));
    const child = spawn(command, [...args], { cwd, env: { ...base, NO_COLOR: '1', npm_config_nodedir: '/usr', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export const INSTALL_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'] as const;

/**
 * `npm pack` into `dest`; the tarball's path. Packs the dist/ that `npm test` built first
 * (--ignore-scripts skips `prepare`, which would rebuild dist/ under the feet of the tests that
 * spawn the compiled CLI meanwhile); run `npm run build` before running these files alone.
 */
export async function packEdgetwin(dest: string): Promise<string> {
  const r = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dest, '--silent'], REPO);
  if (r.code !== 0) throw new Error(`npm pack failed (${r.code}):\n${r.stderr}`);
  const tgz = readdirSync(dest).find((f) => /^edgetwin-.*\.tgz$/.test(f));
  if (!tgz) throw new Error(`npm pack wrote no tarball to ${dest}:\n${r.stdout}${r.stderr}`);
  return path.join(dest, tgz);
}

/** This repository's package.json. */
export function repoPackage(): { name: string; version: string; dependencies: Record<string, string>; devDependencies: Record<string, string>; peerDependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as ReturnType<typeof repoPackage>;
}

/** Fails with the command's output when it did not exit 0. */
export function ok(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-6000)}`);
  return r;
}
