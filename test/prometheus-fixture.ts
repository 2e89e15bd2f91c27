// Prometheus for telemetry tests: the private server of bench/prometheus.ts (guard its tests with
// requirePeer('prometheus'), test/peers.ts), and promtool's verdict on an exposition.

import { spawn } from 'node:child_process';

export { startPrometheus, type PromSample, type RunningPrometheus as TestPrometheus } from '../bench/prometheus.js';

/** `promtool check metrics` on an exposition: exit code 0 (fine), 3 (lint findings only) or 1 (parse error), and its findings. */
export function promtoolCheck(text: string): Promise<{ code: number | null; findings: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, findings: out.split('\n').filter((l) => l.trim() !== '') }));
    child.stdin.end(text);
  });
}

/** prom-client's own process gauges are named like counters (`_total` on a gauge); not ours to rename. */
export const PROM_CLIENT_LINT = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
