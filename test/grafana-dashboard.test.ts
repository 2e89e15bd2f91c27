// examples/grafana/edgetwin-dashboard.json asks only for series a running node exposes: each
// metric name in its queries is in the /metrics of a real EdgeCore (device values opted in,
// remote write configured), except the telemetry outbox's, listed here until it lands.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { EXAMPLES, TestClient, startEdge, thermostatManifest, type TestEdge } from './helpers.js';

/** Series of the durable telemetry outbox (telemetry/outbox/), built separately; not on /metrics yet. */
const PENDING = new Set(['edgetwin_telemetry_outbox_depth', 'edgetwin_telemetry_outbox_dropped_total']);

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; refId: string }>;
}

const dashboard = JSON.parse(readFileSync(path.join(EXAMPLES, 'grafana', 'edgetwin-dashboard.json'), 'utf8')) as { title: string; uid: string; panels: Panel[]; templating: { list: Array<{ name: string }> } };

describe('the Grafana dashboard', () => {
  let edge: TestEdge;
  beforeAll(async () => {
    const closed = `http://127.0.0.1:${await freePort()}/api/v1/write`;
    edge = await startEdge(
      { 'thermo.yaml': thermostatManifest('thermo') },
      { http: { port: 0 }, mappers: { enabled: [] }, telemetry: { prometheus: { devices: { 'default/thermo': { enabled: true } } }, remoteWrite: { url: closed, ownMetrics: false } } },
    );
    const client = await TestClient.connect(edge.url);
    await client.publish('$hw/events/device/default/thermo/twin/update', { twin: { temperature: { actual: { value: '20' } } } });
    await client.next('$hw/events/device/default/thermo/twin/update/result');
    await client.close();
  });
  afterAll(async () => {
    await edge?.stop();
  });

  it('is a dashboard Grafana imports: unique panel ids, a grid position and queries on every panel, its variables defined', () => {
    expect(dashboard.uid).toBe('edgetwin-node');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos, p.title).toBeDefined();
      if (p.type !== 'row') expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    const vars = new Set(dashboard.templating.list.map((v) => v.name));
    for (const p of dashboard.panels) for (const t of p.targets ?? []) for (const m of t.expr.matchAll(/\$(\w+)/g)) if (!m[1]!.startsWith('__')) expect(vars.has(m[1]!), `${p.title}: $${m[1]}`).toBe(true);
  });

  it('queries only metrics a running node exposes (or the outbox\'s, pending)', async () => {
    const text = await (await fetch(`${edge.core.metricsUrl!}/metrics`)).text();
    // A sample line, or a metric declared (# TYPE) with no series yet (a labelled gauge before its first device).
    const exposed = new Set(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]));
    for (const m of text.matchAll(/^# TYPE (\S+) /gm)) exposed.add(m[1]!);
    const used = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\b(?:edgetwin|nodejs|process)_[a-z0-9_]+/g)].map((m) => m[0]))));
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((name) => !exposed.has(name) && !PENDING.has(name));
    expect(missing).toEqual([]);
  });
});
