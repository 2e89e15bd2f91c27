// (c) Memory: resident size of an idle edgetwin with N devices of 5 properties each (twins
// loaded, every property holding a value), and the cost per device. (d) Restart: time from
// start to ready with those twins on disk: `edgetwin run` from spawn to its ready line, and
// EdgeCore's start-up steps timed one by one. Every measurement runs in a fresh process.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_LIMITS, fmt, median, printTable, runBenchChild, type ResultRow } from './lib.js';
import { noProgress, type FigureSink } from './progress.js';

export interface FootprintOptions {
  /** Told each figure as it is measured (bench/progress.ts). */
  readonly figure?: FigureSink;
  /** Device counts to measure; 0 gives the baseline the per-device cost is taken against. */
  readonly sizes: readonly number[];
  /** Device count of the restart measurement (one of `sizes`). */
  readonly restartDevices: number;
  readonly runs: number;
  /** Idle time of a measured node before and after its garbage is collected. */
  readonly idleMs: number;
}

interface Measured {
  readonly devices: number;
  readonly twins: number;
  readonly startMs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

type Phases = Readonly<Record<string, number>>;

const MB = 1024 * 1024;
const BIN = fileURLToPath(new URL('../../bin/edgetwin.js', import.meta.url));

/** `edgetwin run` on a prepared dir: milliseconds from spawn to the ready line. */
function cliStart(dir: string): Promise<number> {
  const t0 = performance.now();
  const config = path.join(dir, 'edgetwin.json');
  writeFileSync(config, JSON.stringify({ dataDir: 'data', devices: ['devices'], mqtt: { limits: BENCH_LIMITS } }));
  const args = ['run', '--config', config, '--mqtt-port', '0', '--metrics-port', '0', '--log-level', 'warn'];
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let ready = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready || !out.includes('edgetwin ready:')) return;
      ready = true;
      const ms = performance.now() - t0;
      child.once('exit', (code) => (code === 0 ? resolve(ms) : reject(new Error(`edgetwin run exited ${code}: ${err}`))));
      child.kill('SIGTERM');
    });
    child.once('exit', (code) => {
      if (!out.includes('edgetwin ready:')) reject(new Error(`edgetwin run exited ${code} before ready: ${err}`));
    });
  });
}

export interface FootprintResult {
  readonly memory: ResultRow[];
  readonly restart: ResultRow[];
}

export async function benchFootprint(opts: FootprintOptions): Promise<FootprintResult> {
  const dirs = new Map<number, string>();
  try {
    for (const n of new Set([...opts.sizes, opts.restartDevices])) {
      const dir = mkdtempSync(path.join(tmpdir(), `edgetwin-bench-${n}-`));
      dirs.set(n, dir);
      await runBenchChild('edge-child', ['prepare', dir, String(n)]);
    }
    const memory: Array<ResultRow & Measured> = [];
    for (const n of opts.sizes) {
      const runs: Measured[] = [];
      for (let r = 0; r < opts.runs; r++) {
        runs.push(await runBenchChild<Measured>('edge-child', ['measure', dirs.get(n)!, String(opts.idleMs)], ['--expose-gc']));
        (opts.figure ?? noProgress)(`memory, ${fmt(n)} devices, process ${r + 1}/${opts.runs}`, `${fmt(runs.at(-1)!.rssBytes / MB)} MB resident`);
      }
      memory.push({ devices: n, twins: runs[0]!.twins, startMs: median(runs.map((m) => m.startMs)), rssBytes: median(runs.map((m) => m.rssBytes)), heapUsedBytes: median(runs.map((m) => m.heapUsedBytes)) });
    }
    const base = memory.find((m) => m.devices === 0);
    const perDevice = (m: Measured, key: 'rssBytes' | 'heapUsedBytes'): number => (base && m.devices > 0 ? (m[key] - base[key]) / m.devices : 0);
    const memRows = memory.map((m) => ({ ...m, rssPerDeviceBytes: perDevice(m, 'rssBytes'), heapPerDeviceBytes: perDevice(m, 'heapUsedBytes') }));
    printTable(
      `(c) Memory, idle, twins loaded (median of ${opts.runs} fresh processes; per device = (N − 0 devices) / N)`,
      ['devices × 5 properties', 'resident MB', 'JS heap used MB', 'resident bytes / device', 'heap bytes / device'],
      memRows.map((m) => [fmt(m.devices), fmt(m.rssBytes / MB), fmt(m.heapUsedBytes / MB), m.devices > 0 ? fmt(m.rssPerDeviceBytes) : '—', m.devices > 0 ? fmt(m.heapPerDeviceBytes) : '—']),
    );

    const dir = dirs.get(opts.restartDevices)!;
    const cli: number[] = [];
    const phases: Phases[] = [];
    for (let r = 0; r < opts.runs; r++) {
      cli.push(await cliStart(dir));
      phases.push(await runBenchChild<Phases>('edge-child', ['phases', dir]));
      (opts.figure ?? noProgress)(`restart, ${fmt(opts.restartDevices)} devices, run ${r + 1}/${opts.runs}`, `${fmt(cli.at(-1)!)} ms to the ready line`);
    }
    const step = (key: string): number => median(phases.map((p) => p[key] ?? 0));
    const restart: ResultRow[] = [
      { step: '`edgetwin run`: spawn → ready line (end to end)', ms: median(cli) },
      { step: 'models (bundled JSON Schemas compiled)', ms: step('modelsMs') },
      { step: 'manifests (YAML parsed, validated): a first start, or after an edit', ms: step('manifestsMs') },
      { step: 'manifests from the cache (unchanged since the last start)', ms: step('manifestCacheMs') },
      { step: 'store opened, every twin loaded', ms: step('storeLoadMs') },
      { step: 'broker listening', ms: step('brokerMs') },
      { step: 'devices bound to their twins', ms: step('bindMs') },
    ];
    printTable(
      `(d) Restart with ${fmt(opts.restartDevices)} devices × 5 twins on disk (median of ${opts.runs})`,
      ['step', 'ms'],
      restart.map((r) => [String(r.step), fmt(Number(r.ms))]),
    );
    return { memory: memRows, restart };
  } finally {
    for (const dir of dirs.values()) rmSync(dir, { recursive: true, force: true });
  }
}
