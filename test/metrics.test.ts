// /metrics, /healthz and /readyz of a real EdgeCore (metrics port 0): real MQTT traffic, a real
// in-process Modbus mapper polling a simulated thermostat over TCP, and the scrape parsed with a
// Prometheus text-format parser, checking that each key series moves.

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import parsePrometheusTextFormat, { type PrometheusFamily, type PrometheusSample } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { BUNDLED_MODELS_DIR, loadModels, parseDeviceManifest, resolveConfig } from '../schemas/index.js';
import { ModbusSimulator, ModbusTcpServer } from '../simulators/index.js';
import { parse as parseYaml } from 'yaml';
import { EXAMPLES, REPO, startEdge, tempDir, TestClient, thermostatManifest, type TestEdge } from './helpers.js';

type Scrape = ReadonlyMap<string, PrometheusFamily>;

async function scrape(edge: TestEdge): Promise<Scrape> {
  const res = await fetch(`${edge.core.metricsUrl!}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
}

function samples(s: Scrape, name: string, labels: Record<string, string> = {}): PrometheusSample[] {
  const family = s.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  return family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => (m.labels?.[k] ?? '') === v));
}

/** The sum of the matching samples' values (counters, gauges). */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return samples(s, name, labels).reduce((sum, m) => sum + Number(m.value ?? 0), 0);
}

/**
 * A histogram's observation count. parse-prometheus-text-format 1.1 folds a labelled histogram
 * into one sample (labels, _count and _sum dropped, buckets of the last label set kept), so this
 * reads the +Inf bucket, which equals the count when the test produced one label set.
 */
function observations(s: Scrape, name: string): number {
  const [sample] = s.get(name)?.metrics ?? [];
  return Number(sample?.count ?? sample?.buckets?.['+Inf'] ?? 0);
}

const update = (ns: string, name: string, twin: unknown): [string, string] => [
  `$hw/events/device/${ns}/${name}/twin/update`,
  JSON.stringify({ event_id: `e-${Math.random()}`, timestamp: Date.now(), twin }),
];

describe('metrics and health endpoints of a running EdgeCore', () => {
  let edge: TestEdge;
  let client: TestClient;
  let server: ModbusTcpServer;
  let simulator: ModbusSimulator;

  beforeAll(async () => {
    // The demo thermostat, simulated on a free port; its manifest is pointed at that port.
    const models = loadModels([BUNDLED_MODELS_DIR]).models;
    const text = readFileSync(path.join(EXAMPLES, 'devices', 'thermostat.yaml'), 'utf8');
    simulator = new ModbusSimulator({ device: parseDeviceManifest(parseYaml(text), models, 'thermostat.yaml'), model: models.get('thermostat')!, evolveEveryMs: 50 });
    server = new ModbusTcpServer({ units: simulator });
    const { port } = await server.start();
    simulator.start();
    edge = await startEdge(
      { 'thermostat.yaml': text.replace('port: "1502"', `port: "${port}"`).replaceAll('collectCycle: 1000', 'collectCycle: 100'), 'thermo.yaml': thermostatManifest('thermo') },
      { metrics: { port: 0 }, mappers: { enabled: ['modbus'] } },
    );
    client = await TestClient.connect(edge.url);
  });

  afterAll(async () => {
    await client?.client.endAsync();
    await edge?.stop();
    simulator?.stop();
    await server?.close();
  });

  it('serves /metrics on the bound port; key series move with real traffic', async () => {
    expect(edge.core.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const before = await scrape(edge);
    const result = (name: string): string => `$hw/events/device/default/${name}/twin/update/result`;
    /** Publishes and awaits the answer on `answerTopic` that `match`es. */
    const send = async ([topic, payload]: [string, string], answerTopic: string, match: (json: Record<string, unknown>) => boolean): Promise<void> => {
      const from = client.count;
      await client.publish(topic, payload);
      await client.next(answerTopic, match, 5000, from);
    };
    const setpoint = (value: string, name = 'thermo'): [string, string] => update('default', name, { setpoint: { expected: { value } } });
    await send(setpoint('22'), result('thermo'), (j) => j.code === undefined);
    await send(setpoint('22'), result('thermo'), (j) => j.code === undefined);
    await send(setpoint('99'), result('thermo'), (j) => j.error_code === 'EDGETWIN_ERR_MODEL_VALIDATION');
    await send(setpoint('20', 'nope'), result('nope'), (j) => j.error_code === 'EDGETWIN_ERR_DEVICE_NOT_FOUND');
    await send(['$hw/events/device/default/thermo/twin/update', '{not json'], '$hw/events/device//twin/update/result', (j) => j.error_code === 'EDGETWIN_ERR_PAYLOAD_JSON');
    // The closed loop of the Modbus thermostat: its manifest's desired setpoint is written, read back, acked.
    await client.next('$hw/events/device/default/thermostat/twin/update/document', (j) => JSON.stringify(j).includes('"applied"'), 10_000);

    const after = await scrape(edge);
    const moved = (name: string, labels: Record<string, string> = {}): number => value(after, name, labels) - (before.has(name) ? value(before, name, labels) : 0);
    expect(moved('edgetwin_twin_updates_total', { outcome: 'applied', origin: 'edge', code: '' })).toBeGreaterThanOrEqual(1);
    expect(moved('edgetwin_twin_updates_total', { outcome: 'unchanged', origin: 'edge' })).toBeGreaterThanOrEqual(1);
    expect(moved('edgetwin_twin_updates_total', { outcome: 'rejected', code: 'EDGETWIN_ERR_MODEL_VALIDATION' })).toBe(1);
    expect(moved('edgetwin_twin_updates_total', { outcome: 'rejected', code: 'EDGETWIN_ERR_DEVICE_NOT_FOUND' })).toBe(1);
    expect(moved('edgetwin_twin_updates_total', { outcome: 'rejected', code: 'EDGETWIN_ERR_PAYLOAD_JSON' })).toBe(1);
    expect(value(after, 'edgetwin_twin_desired_acks_total', { state: 'applied' })).toBeGreaterThanOrEqual(1);
    expect(observations(after, 'edgetwin_twin_desired_ack_seconds')).toBeGreaterThanOrEqual(1);
    expect(value(after, 'edgetwin_twin_desired', { ack: 'pending' })).toBeGreaterThanOrEqual(1); // thermo's setpoint 22: no mapper acks it
    expect(value(after, 'edgetwin_twin_deltas')).toBeGreaterThanOrEqual(1);
    expect(value(after, 'edgetwin_twin_delta_oldest_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(value(after, 'edgetwin_devices')).toBe(2);
    expect(observations(after, 'edgetwin_store_commit_duration_seconds') - observations(before, 'edgetwin_store_commit_duration_seconds')).toBeGreaterThanOrEqual(1);
    expect(moved('edgetwin_mqtt_messages_received_total')).toBeGreaterThanOrEqual(5);
    expect(value(after, 'edgetwin_mqtt_clients')).toBe(1);
    expect(value(after, 'edgetwin_mqtt_inflight_messages')).toBe(0);
    expect(observations(after, 'edgetwin_mapper_poll_duration_seconds')).toBeGreaterThan(observations(before, 'edgetwin_mapper_poll_duration_seconds'));
    expect(value(after, 'edgetwin_mapper_device_up', { device: 'default/thermostat', protocol: 'modbus' })).toBe(1);
    expect(value(after, 'edgetwin_mapper_polls_total', { device: 'default/thermostat', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(samples(after, 'edgetwin_mapper_timeouts_total', { device: 'default/thermostat' })).toHaveLength(1);
    expect(samples(after, 'edgetwin_mapper_reconnects_total', { device: 'default/thermostat' })).toHaveLength(1);
    expect(value(after, 'edgetwin_cloudsync_state', { state: 'off' })).toBe(1);
    expect(value(after, 'edgetwin_cloudsync_outbox_depth')).toBe(0);
    expect(value(after, 'process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    expect(value(after, 'edgetwin_build_info')).toBe(1);
    // docs/observability.md describes every edgetwin series.
    const doc = readFileSync(path.join(REPO, 'docs', 'observability.md'), 'utf8');
    for (const name of after.keys()) if (name.startsWith('edgetwin_')) expect(doc, name).toContain(`\`${name}\``);
    // Naming conventions: counters end in _total, durations are in seconds.
    for (const family of after.values()) {
      if (family.type === 'COUNTER') expect(family.name).toMatch(/_total$/);
      if (family.name.startsWith('edgetwin_') && family.type === 'HISTOGRAM' && family.name.includes('duration')) expect(family.name).toMatch(/_seconds$/);
    }
  });

  it('/healthz and /readyz answer JSON; other paths and methods are refused', async () => {
    const health = await fetch(`${edge.core.metricsUrl!}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const ready = await fetch(`${edge.core.metricsUrl!}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { startup: { ok: true }, store: { ok: true, detail: 'open' }, broker: { ok: true, detail: edge.url }, cloudSync: { ok: true, detail: 'off' } },
    });
    expect((await fetch(`${edge.core.metricsUrl!}/nope`)).status).toBe(404);
    expect((await fetch(`${edge.core.metricsUrl!}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});

describe('metrics start-up choices', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  const core = (dir: string, metrics: { enabled?: boolean; port?: number }): EdgeCore =>
    new EdgeCore({ config: resolveConfig({ dataDir: path.join(tmp.dir, dir), mqtt: { port: 0 }, metrics }), logger: silentLogger() });

  it('a taken metrics port is a warning: edgetwin starts and serves MQTT without /metrics', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    const c = core('taken', { port: taken });
    try {
      await c.start();
      expect(c.metricsUrl).toBeUndefined();
      expect(c.readiness().ready).toBe(true);
    } finally {
      await c.stop();
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('metrics.enabled false serves nothing', async () => {
    const c = core('off', { enabled: false });
    await c.start();
    expect(c.metricsUrl).toBeUndefined();
    await c.stop();
  });

  it('/readyz is 503 once stopping, and the endpoint closes with the core', async () => {
    const c = core('stop', { port: 0 });
    await c.start();
    const url = c.metricsUrl!;
    const stopped = c.stop();
    expect(c.readiness()).toMatchObject({ ready: false, checks: { startup: { ok: false, detail: 'stopping' } } });
    await stopped;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
