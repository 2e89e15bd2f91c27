// History end to end, as a user runs it: the compiled `edgetwin run` with a simulated Modbus
// thermostat (the unchanged Modbus mapper in-process) and a device reported over MQTT; the same
// series read back over the HTTP API, the MQTT extension and `edgetwin history`.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { TwinClient, type HistoryResult } from '../devicetwin/index.js';
import { MqttBus } from '../eventbus/index.js';
import { EXAMPLES, TestClient, tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { BUILT, runCli, spawnEdge, type RunningEdge } from './process.js';

type Json = Record<string, unknown>;
type Series = HistoryResult['series'][number];

async function get(url: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Json };
}

describe.skipIf(!BUILT)('history of a running edgetwin: HTTP, MQTT and the CLI agree', () => {
  const tmp = tempDir('edgetwin-history-e2e-');
  let edge: RunningEdge;
  let http = '';
  let client: TestClient;
  let bus: MqttBus;
  let twins: TwinClient;
  /** What thermo's update results said was stored: [timestamp, value]. */
  const reported: Array<[number, number]> = [];

  beforeAll(async () => {
    const port = await freePort();
    const modbus = readFileSync(path.join(EXAMPLES, 'devices', 'thermostat.yaml'), 'utf8')
      .replace('port: "1502"', `port: "${port}"`)
      .replace('nodeName: edge-1', 'nodeName: edge-test')
      .replaceAll('collectCycle: 1000', 'collectCycle: 100')
      .replaceAll('reportCycle: 1000', 'reportCycle: 100');
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermostat.yaml': modbus, 'thermo.yaml': thermostatManifest('thermo') });
    const config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(
      config,
      ['nodeName: edge-test', 'dataDir: ./data', 'devices: [./devices]', 'simulate: [default/thermostat]', 'mappers: { enabled: [modbus] }', 'history: { maxPoints: 1000 }', ''].join('\n'),
    );
    edge = await spawnEdge(['--config', config, '--mqtt-port', '0', '--http-port', '0', '--log-level', 'warn']);
    http = /, http (http:\/\/\S+)$/.exec(edge.readyLine)?.[1] ?? '';
    expect(http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    client = await TestClient.connect(edge.url);
    bus = new MqttBus({ url: edge.url });
    await bus.start();
    twins = new TwinClient(bus);
    // 20 readings of thermo's temperature, each answered after its commit.
    for (let i = 0; i < 20; i++) {
      const result = await twins.reportActual('default/thermo', { temperature: (20 + i / 10).toFixed(1) });
      const actual = result.twin.temperature?.actual;
      reported.push([Number(actual?.metadata?.timestamp), Number(actual?.value)]);
    }
  });

  afterAll(async () => {
    await bus?.close();
    await client?.close();
    if (edge) expect(await edge.stop()).toBe(0);
    tmp.cleanup();
  });

  const temperatureUrl = (query = ''): string => `${http}/api/v1/devices/default/thermo/history?property=temperature&kind=reported&since=1h${query}`;

  it('the HTTP API returns every reported value with the timestamp the twin stored', async () => {
    const { status, body } = await get(temperatureUrl());
    expect(status).toBe(200);
    expect(body).toMatchObject({ device: 'default/thermo', step: null });
    expect(body.series).toEqual([{ property: 'temperature', kind: 'reported', type: 'float', t: reported.map(([t]) => t), value: reported.map(([, v]) => v) }]);
  });

  it('the MQTT extension and `edgetwin history --json` return the same series', async () => {
    const { body } = await get(temperatureUrl());
    const mqtt = await twins.history('default/thermo', { properties: ['temperature'], kinds: ['reported'], since: '1h' });
    expect(mqtt.series).toEqual(body.series);
    const cli = await runCli(['history', 'default/thermo', 'temperature', '--kind', 'reported', '--json', '--broker', edge.url]);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as HistoryResult).series).toEqual(body.series);
  });

  it('with a step, HTTP and MQTT agree on the buckets, which hold every value', async () => {
    const { body } = await get(temperatureUrl('&step=1m'));
    const mqtt = await twins.history('default/thermo', { properties: ['temperature'], kinds: ['reported'], since: '1h', step: '1m' });
    expect(mqtt.series).toEqual(body.series);
    const [series] = body.series as Series[];
    if (!series || !('count' in series)) throw new Error('no buckets');
    expect(series.count.reduce((a, b) => a + b, 0)).toBe(20);
    expect(series.last.at(-1)).toBe(reported.at(-1)?.[1]);
    expect(Math.min(...series.min.map(Number))).toBe(20);
    expect(Math.max(...series.max.map(Number))).toBe(21.9);
  });

  it('the CLI prints CSV with --csv and when piped, one line per point', async () => {
    for (const args of [['--csv'], []]) {
      const cli = await runCli(['history', 'default/thermo', 'temperature', '--kind', 'reported', '--since', '1h', ...args, '-b', edge.url]);
      expect(cli.code).toBe(0);
      const lines = cli.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('time,property,kind,value');
      expect(lines.slice(1)).toEqual(reported.map(([t, v]) => `${new Date(t).toISOString()},temperature,reported,${v}`));
    }
  });

  it("keeps the Modbus thermostat's readings as the twin's documents announced them", async () => {
    const docs = '$hw/events/device/default/thermostat/twin/update/document';
    const seen: Array<[number, number]> = [];
    for (let from = client.count; seen.length < 3; ) {
      const doc = await client.next(docs, (j) => JSON.stringify(j).includes('"temperature"'), 15_000, from);
      from = client.count;
      const current = (doc.json.twin as Json)?.temperature as { current?: { actual?: { value: string; metadata: { timestamp: number } } } };
      const actual = current?.current?.actual;
      if (actual && !seen.some(([t]) => t === actual.metadata.timestamp)) seen.push([actual.metadata.timestamp, Number(actual.value)]);
    }
    const { body } = await get(`${http}/api/v1/devices/default/thermostat/history?property=temperature&kind=reported`);
    const [series] = body.series as Series[];
    if (!series || !('value' in series)) throw new Error('no points');
    for (const [t, v] of seen) expect(series.value[series.t.indexOf(t)], `the reading at ${t}`).toBeCloseTo(v, 4);
  });

  it('keeps desired values and their acks: the manifest seed, a set value, pending then applied', async () => {
    const set = await runCli(['twin', 'set', 'default/thermostat', 'setpoint=23.5', '--broker', edge.url]);
    expect(set.code).toBe(0);
    await client.next('$hw/events/device/default/thermostat/twin/update/document', (j) => JSON.stringify(j).includes('"applied"') && JSON.stringify(j).includes('23.5'), 15_000);
    const result = await twins.history('default/thermostat', { properties: ['setpoint'], kinds: ['desired', 'ack'], since: '1h' });
    const byKind = Object.fromEntries(result.series.map((s) => [s.kind, 'value' in s ? s.value : []]));
    expect(byKind.desired).toEqual([21, 23.5]);
    expect(byKind.ack).toEqual(expect.arrayContaining(['pending', 'applied']));
    expect((byKind.ack as unknown[]).at(-1)).toBe('applied');
  });

  it('refuses bad queries with a code that says what to change: HTTP, MQTT and the CLI alike', async () => {
    const bad = await get(`${http}/api/v1/devices/default/thermo/history?since=yesterday`);
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'EDGETWIN_ERR_HISTORY_QUERY', message: expect.stringContaining('since "yesterday" is not a time') } } });
    const order = await get(`${http}/api/v1/devices/default/thermo/history?since=1h&until=2h`);
    expect(order).toMatchObject({ status: 400, body: { error: { code: 'EDGETWIN_ERR_HISTORY_QUERY', message: expect.stringContaining('must be before until') } } });
    expect(await get(`${http}/api/v1/devices/default/thermo/history?step=0`)).toMatchObject({ status: 400, body: { error: { code: 'EDGETWIN_ERR_HISTORY_QUERY' } } });
    expect(await get(`${http}/api/v1/devices/default/thermo/history?propery=temperature`)).toMatchObject({ status: 400, body: { error: { code: 'EDGETWIN_ERR_HTTP_REQUEST' } } });
    expect(await get(`${http}/api/v1/devices/default/thermo/history?property=nope`)).toMatchObject({ status: 400, body: { error: { code: 'EDGETWIN_ERR_PROPERTY_UNKNOWN' } } });
    expect(await get(`${http}/api/v1/devices/default/ghost/history`)).toMatchObject({ status: 404, body: { error: { code: 'EDGETWIN_ERR_DEVICE_NOT_FOUND' } } });
    // history.maxPoints is 1000 here: 2 h at 1 s is 7,200 buckets.
    const many = await get(`${http}/api/v1/devices/default/thermo/history?property=temperature&kind=reported&since=2h&step=1s`);
    expect(many).toMatchObject({ status: 400, body: { error: { code: 'EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS', message: expect.stringContaining('(limit 1,000): use a step of 10s or more') } } });
    await expect(twins.history('default/thermo', { properties: ['temperature'], kinds: ['reported'], since: '2h', step: '1s' })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS' });
    await expect(twins.history('default/thermo', { kinds: ['latest'] })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_HISTORY_QUERY' });
    const cli = await runCli(['history', 'default/thermo', 'temperature', '--since', '2h', '--step', '1s', '-b', edge.url]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^error EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS: .*--step 10s/);
  });

  it('answers unknown paths and methods with coded errors; HEAD as GET without a body', async () => {
    expect(await get(`${http}/api/v1/nope`)).toMatchObject({ status: 404, body: { error: { code: 'EDGETWIN_ERR_HTTP_NOT_FOUND' } } });
    const post = await fetch(temperatureUrl(), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(((await post.json()) as Json).error).toMatchObject({ code: 'EDGETWIN_ERR_HTTP_METHOD' });
    const head = await fetch(temperatureUrl(), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
  });
});
