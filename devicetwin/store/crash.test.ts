// kill -9 durability: a commit that has resolved survives SIGKILL of the process at any moment.
// The child runs compiled (dist/), so this needs `npm run build` first.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

import { required } from '../../test/peers.js';
import { SqliteTwinStore } from './sqlite.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const child = join(here, '..', '..', 'dist', 'devicetwin', 'store', 'crash-child.js');
const built = join(here, '..', '..', 'dist', 'devicetwin', 'store', 'sqlite.js');
// A dist/ older than the sources would test yesterday's code: skip, and say so.
const sourcesChanged = existsSync(built) && existsSync(child) && readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .some((f) => statSync(join(here, f)).mtimeMs > statSync(built).mtimeMs);
const why = sourcesChanged ? 'dist/ older than devicetwin/store sources' : 'dist/ missing';
const skip = !required(`a current build (${why})`, existsSync(built) && existsSync(child) && !sourcesChanged, 'npm run build');

interface Run { acked: number[]; stderr: string }

/** Starts the child, SIGKILLs it once `killAfter` commits are acknowledged, returns the acks. */
function runUntilKilled(path: string, first: number, killAfter: number, timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, path, String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    let stderr = '';
    let partial = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child acknowledged ${acked.length}/${killAfter} commits in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line !== 'ready') acked.push(Number(line));
      if (acked.length >= killAfter) proc.kill('SIGKILL');
    });
    // 'close' comes after stdout has ended: every line the child wrote before dying is in.
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve({ acked, stderr });
      else reject(new Error(`child exited (code ${code}) before being killed; stderr: ${stderr}`));
    });
  });
}

describe.skipIf(skip)(`kill -9 durability (skipped when ${why}: run \`npm run build\`)`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetwin-crash-'));
  const path = join(dir, 'twins.db');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every acknowledged commit is present after SIGKILL, over several crashes', async () => {
    const acked = new Set<number>();
    for (let round = 0; round < 4; round++) {
      const killAfter = 50 + Math.floor(Math.random() * 400);
      const run = await runUntilKilled(path, round * 1_000_000, killAfter);
      expect(run.acked.length).toBeGreaterThanOrEqual(killAfter);
      for (const n of run.acked) acked.add(n);

      const store = new SqliteTwinStore({ path });
      const { devices, members } = await store.open();
      await store.close();
      const seqs = new Set(devices.filter((d) => d.id.startsWith('crash/n-')).map((d) => Number(d.twins['seq']?.actual?.value)));
      const memberIds = new Set(members.map((m) => m.id));
      const lost = [...acked].filter((n) => !seqs.has(n) || !memberIds.has(`crash/n-${n}`));
      expect(lost, `acknowledged but lost after round ${round}`).toEqual([]);
      const last = devices.find((d) => d.id === 'crash/last')?.twins['seq']?.actual?.value;
      expect(Number(last)).toBeGreaterThanOrEqual(Math.max(...run.acked));

      const db = new Database(path, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
    }
  });
});
