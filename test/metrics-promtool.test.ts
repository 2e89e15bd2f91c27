// /metrics of a real EdgeCore that has handled traffic, checked by Prometheus's own parser
// (`promtool check metrics`, Debian package prometheus) and by the text format's grammar
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format: a value
// is a float, `NaN`, `+Inf` or `-Inf`), scraped back to back so an empty event-loop window
// is scraped too.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdge, TestClient, thermostatManifest, type TestEdge } from './helpers.js';

const PROMTOOL = '/usr/bin/promtool';
// In CI a missing peer fails the run instead of skipping it.
const REQUIRED = process.env.CI === 'true';

/** promtool's verdict: exit code 0 (fine), 3 (lint findings only) or 1 (parse error), and its findings. */
function promtool(text: string): Promise<{ code: number | null; findings: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, findings: out.split('\n').filter((l) => l.trim() !== '') }));
    child.stdin.end(text);
  });
}

// prom-client's own process gauges are named like counters; not ours to rename.
const PROM_CLIENT_LINT = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
// The sample line of the text format: name, optional labels, value, optional timestamp.
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)( -?\d+)?$/;
const FLOAT = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

describe.skipIf(!existsSync(PROMTOOL) && !REQUIRED)('/metrics is valid exposition text', () => {
  let edge: TestEdge;
  let client: TestClient;

  beforeAll(async () => {
    edge = await startEdge({ 'thermo.yaml': thermostatManifest('thermo') }, { metrics: { port: 0 }, mappers: { enabled: [] }, telemetry: { prometheus: { devices: { 'default/thermo': { enabled: true } } } } });
    client = await TestClient.connect(edge.url);
  });

  afterAll(async () => {
    await client?.close();
    await edge?.stop();
  });

  it('passes promtool and the format grammar, with no NaN and a sane event-loop summary, after traffic', async () => {
    expect(existsSync(PROMTOOL), `${PROMTOOL} (Debian package prometheus) is required`).toBe(true);
    const D = '$hw/events/device/default/thermo';
    await client.publish(`${D}/twin/update`, { twin: { setpoint: { expected: { value: '21' } } } });
    await client.next(`${D}/twin/update/result`);
    await client.publish(`${D}/twin/update`, { twin: { setpoint: { expected: { value: 'hot' } } } });
    await client.next(`${D}/twin/update/result`, (j) => j.code === 400);
    // Device values are in the exposition too (telemetry/prometheus/): a number and a boolean.
    await client.publish(`${D}/twin/update`, { twin: { temperature: { actual: { value: '21.25' } }, power: { actual: { value: 'false' } } } });
    await client.next(`${D}/twin/update/result`);

    // Back to back: the second finds no new event-loop sample (prom-client resets at each scrape).
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) texts.push(await (await fetch(`${edge.core.metricsUrl!}/metrics`)).text());

    expect(texts[0]).toContain('edgetwin_device_property_value{device="default/thermo",property="temperature",unit="Celsius"} 21.25');
    expect(texts[0]).toContain('edgetwin_device_property_value{device="default/thermo",property="power",unit=""} 0');
    for (const text of texts) {
      const { code, findings } = await promtool(text);
      const unexpected = findings.filter((f) => !PROM_CLIENT_LINT.test(f));
      expect(unexpected, 'promtool findings').toEqual([]);
      expect([0, 3]).toContain(code);

      const values = new Map<string, number>();
      for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const m = SAMPLE.exec(line);
        expect(m, `a sample line: ${line}`).not.toBeNull();
        const raw = m![3]!;
        expect(FLOAT.test(raw) || raw === '+Inf' || raw === '-Inf', `a value the format allows (no NaN here): ${line}`).toBe(true);
        if (m![2] === undefined) values.set(m![1]!, Number(raw));
      }
      const min = values.get('nodejs_eventloop_lag_min_seconds');
      const max = values.get('nodejs_eventloop_lag_max_seconds');
      expect(min).toBeDefined();
      expect(max).toBeDefined();
      expect(min!).toBeLessThanOrEqual(max!);
      // An hour of event-loop delay would be a dead process, not a measurement.
      for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
        expect(values.get(`nodejs_eventloop_lag_${stat}_seconds`), stat).toBeLessThan(3600);
      }
    }
  });
});
