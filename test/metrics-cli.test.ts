// `edgetwin run --metrics-port` and `--no-metrics` as a user runs them (the compiled CLI).

import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { BUILT, spawnEdge, type RunningEdge } from './process.js';

/** The URL from the `metrics and health listening` log line (pino JSON on stderr). */
function metricsUrl(stderr: string): string | undefined {
  for (const line of stderr.split('\n')) {
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'metrics and health listening') return entry.url;
    } catch {
      // not a log line
    }
  }
  return undefined;
}

/** Awaits the log line (logs are written asynchronously, so it may follow the ready line). */
function awaitMetricsUrl(edge: RunningEdge, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const url = metricsUrl(edge.output().stderr);
      if (url === undefined) return;
      clearTimeout(timer);
      edge.child.stderr?.off('data', check);
      resolve(url);
    };
    const timer = setTimeout(() => {
      edge.child.stderr?.off('data', check);
      reject(new Error(`no metrics log line within ${timeoutMs} ms: ${edge.output().stderr}`));
    }, timeoutMs);
    edge.child.stderr?.on('data', check);
    check();
  });
}

describe.skipIf(!BUILT)('edgetwin run metrics flags', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('--metrics-port 0 serves /readyz on a free port, logged at start-up', async () => {
    const edge = await spawnEdge(['--data-dir', path.join(tmp.dir, 'a'), '--mqtt-port', '0', '--metrics-port', '0', '--log-level', 'info']);
    try {
      const url = await awaitMetricsUrl(edge);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', checks: { broker: { ok: true, detail: edge.url } } });
      expect(await (await fetch(`${url}/metrics`)).text()).toContain('edgetwin_twin_updates_total');
    } finally {
      expect(await edge.stop()).toBe(0);
    }
  });

  it('--no-metrics serves nothing', async () => {
    const edge = await spawnEdge(['--data-dir', path.join(tmp.dir, 'b'), '--mqtt-port', '0', '--no-metrics', '--log-level', 'info']);
    try {
      expect(metricsUrl(edge.output().stderr)).toBeUndefined();
      expect(edge.output().stderr).not.toContain('EDGETWIN_ERR_METRICS_LISTEN');
    } finally {
      expect(await edge.stop()).toBe(0);
    }
  });
});
