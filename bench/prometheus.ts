// A private Prometheus (Debian's 2.42) for the remote-write benchmark and tests: its remote-write
// receiver on a free loopback port, a temp TSDB, no scrapes (dependencies notes §15.3: config
// `global` + empty `scrape_configs`, ready in well under a second).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './lib.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  /** [seconds since the epoch, value as Prometheus writes it]. */
  readonly value: readonly [number, string];
}

export interface RunningPrometheus {
  readonly url: string;
  /** `${url}/api/v1/write`. */
  readonly writeUrl: string;
  /** An instant query's vector (`/api/v1/query`), at `time` (seconds) when given. */
  query(promql: string, time?: number): Promise<PromSample[]>;
  stop(): Promise<void>;
}

export function hasPrometheus(): boolean {
  return existsSync(PROMETHEUS_BIN);
}

export async function startPrometheus(readyTimeoutMs = 30_000): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(config, 'global: {scrape_interval: 15s}\nscrape_configs: []\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(PROMETHEUS_BIN, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited ${child.exitCode}: ${log}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`prometheus not ready within ${readyTimeoutMs} ms: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    stop,
    async query(promql, time) {
      const params = new URLSearchParams({ query: promql, ...(time !== undefined ? { time: String(time) } : {}) });
      const res = await fetch(`${url}/api/v1/query?${params.toString()}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: PromSample[] } };
      if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
      return body.data.result;
    },
  };
}
