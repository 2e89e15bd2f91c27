// A private Prometheus (Debian's 2.42) for telemetry tests: its remote-write receiver on a free
// loopback port, a temp TSDB, no scrapes; and PromQL instant queries against it. Guard the tests
// with requirePeer('prometheus') (test/peers.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../bench/lib.js';
import { eventually } from './async.js';
import { tempDir } from './helpers.js';

export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  /** [seconds since the epoch, value as Prometheus writes it]. */
  readonly value: readonly [number, string];
}

export interface TestPrometheus {
  readonly url: string;
  /** `${url}/api/v1/write`. */
  readonly writeUrl: string;
  /** An instant query's vector (`/api/v1/query`), at `time` (seconds) when given. */
  query(promql: string, time?: number): Promise<PromSample[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(): Promise<TestPrometheus> {
  const tmp = tempDir('edgetwin-prometheus-');
  const config = path.join(tmp.dir, 'prometheus.yml');
  writeFileSync(config, 'global: {scrape_interval: 15s}\nscrape_configs: []\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    '/usr/bin/prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(tmp.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    tmp.cleanup();
  };
  try {
    const state = await eventually(async () => {
      if (child.exitCode !== null) return 'exited';
      const res = await fetch(`${url}/-/ready`);
      return res.status === 200 ? 'ready' : undefined;
    }, 30_000);
    if (state === 'exited') throw new Error(`prometheus exited ${child.exitCode}: ${log}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    stop,
    async query(promql, time) {
      const params = new URLSearchParams({ query: promql, ...(time !== undefined ? { time: String(time) } : {}) });
      const res = await fetch(`${url}/api/v1/query?${params.toString()}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
      if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
      return body.data.result;
    },
  };
}

/** `promtool check metrics` on an exposition: exit code 0 (fine), 3 (lint findings only) or 1 (parse error), and its findings. */
export function promtoolCheck(text: string): Promise<{ code: number | null; findings: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, findings: out.split('\n').filter((l) => l.trim() !== '') }));
    child.stdin?.end(text);
  });
}

/** prom-client's own process gauges are named like counters (`_total` on a gauge); not ours to rename. */
export const PROM_CLIENT_LINT = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
