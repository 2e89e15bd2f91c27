// KubeEdge pushMethod/dbMethod sinks end to end (docs/telemetry.md): a simulated Modbus
// thermostat read at 10 Hz for 30 s by the in-process Modbus mapper, its temperature pushed by
// every implemented method — mqtt (mosquitto), http (a receiver in this process), influxdb2
// (influxd 1.6, v1 write API), redis (redis-server), mysql (mariadbd) — each server started here
// on a free port and each taken down for part of the run, and edgetwin itself restarted while
// one is down. Afterwards every value the twin accepted (its history) is in every sink: the same
// count and last value, none twice where the sink has an idempotent key. No timing asserts.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { createConnection } from 'mysql2/promise';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateModbus, type ModbusSimulation } from '../simulators/index.js';
import { mqttPayload } from '../telemetry/sinks/index.js';
import { eventually } from './async.js';
import { EXAMPLES, startEdge, tempDir, type TestEdge } from './helpers.js';
import { freePort, startMosquitto, type Mosquitto } from './mosquitto.js';
import { requirePeer } from './peers.js';
import { startHttpReceiver, startInfluxd, startMariadb, startRedis } from '../bench/sink-servers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const RUN_MS = 30_000;
const TOPIC = 'edgetwin/thermostat/temperature';

describe.skipIf(!requirePeer('mosquitto', 'influxdb', 'redis', 'mariadb'))('pushMethod/dbMethod sinks through outages and a restart', () => {
  const tmp = tempDir('edgetwin-sinks-e2e-');
  let broker: Mosquitto;
  let http: Awaited<ReturnType<typeof startHttpReceiver>>;
  let influx: Awaited<ReturnType<typeof startInfluxd>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let maria: Awaited<ReturnType<typeof startMariadb>>;
  let sim: ModbusSimulation | undefined;
  let edge: TestEdge | undefined;
  let subscriber: mqtt.MqttClient;
  const received: string[] = [];
  let series: { t: number[]; value: number[] } = { t: [], value: [] };

  beforeAll(async () => {
    [broker, http, influx, redis, maria] = await Promise.all([startMosquitto(), startHttpReceiver(), startInfluxd(), startRedis(), startMariadb()]);
    await influx.query('CREATE DATABASE twin');
    const db = await createConnection({ host: '127.0.0.1', port: maria.port, user: 'root' });
    await db.query('CREATE DATABASE kubeedge');
    await db.end();
    // A persistent QoS 1 session, so mosquitto keeps what arrives while this subscriber is away.
    subscriber = await mqtt.connectAsync(broker.url, { clientId: 'sinks-e2e-sub', clean: false, reconnectPeriod: 200 });
    subscriber.on('message', (_t, payload) => received.push(payload.toString()));
    await subscriber.subscribeAsync(TOPIC, { qos: 1 });

    const modbusPort = await freePort();
    const push = [
      '      pushMethod:',
      `        mqtt: { address: "tcp://127.0.0.1:${broker.port}", topic: ${TOPIC}, qos: 1, retained: false }`,
      `        http: { hostName: "http://127.0.0.1", port: ${http.port}, requestPath: /push, timeout: 3000 }`,
      '        dbMethod:',
      `          influxdb2: { influxdb2ClientConfig: { url: "http://127.0.0.1:${influx.port}", org: edge, bucket: twin }, influxdb2DataConfig: { measurement: thermostat, tag: { room: living }, fieldKey: temperature } }`,
      `          redis: { redisClientConfig: { addr: "127.0.0.1:${redis.port}", db: 0 } }`,
      `          mysql: { mysqlClientConfig: { addr: "127.0.0.1:${maria.port}", database: kubeedge, userName: root } }`,
    ].join('\n');
    const manifest = readFileSync(path.join(EXAMPLES, 'devices', 'thermostat.yaml'), 'utf8')
      .replace('port: "1502"', `port: "${modbusPort}"`)
      .replace('nodeName: edge-1', 'nodeName: edge-test')
      .replace('      collectCycle: 1000\n      reportCycle: 1000\n      reportToCloud: true\n', `      collectCycle: 100\n      reportCycle: 100\n      reportToCloud: true\n${push}\n`);
    expect(manifest).toContain('influxdb2ClientConfig');
    const manifestFile = path.join(tmp.dir, 'thermostat.yaml');
    writeFileSync(manifestFile, manifest);
    // The device changes its temperature every 100 ms.
    sim = await simulateModbus({ device: manifestFile, port: modbusPort, evolveEveryMs: 100 });
    const start = (): Promise<TestEdge> =>
      startEdge({ 'thermostat.yaml': manifest }, { mappers: { enabled: ['modbus'] }, telemetry: { outbox: { deliveryTimeout: '3s' } } }, tmp.dir);
    edge = await start();
    const t0 = Date.now();

    // The outages, one sink after another (some overlap), then edgetwin restarted while redis is down.
    await sleep(2_000);
    await broker.stop();
    await sleep(4_000);
    await broker.start();
    await http.stop();
    await sleep(4_000);
    await http.start();
    await influx.stop();
    await sleep(4_000);
    await influx.start();
    await maria.stop();
    await sleep(4_000);
    await maria.start();
    await redis.stop();
    await sleep(2_000);
    await edge.stop();
    edge = await start();
    await sleep(2_000);
    await redis.start();
    await sleep(Math.max(0, RUN_MS - (Date.now() - t0)));
    // The device goes quiet: nothing new is accepted from here on.
    await sim.close();
    sim = undefined;
    await eventually(async () => {
      const s = edge!.core.sinkStats();
      return s.length === 5 && s.every((x) => x.depth === 0) ? true : undefined;
    }, 180_000);
    const h = await edge.core.twin.history('default/thermostat', { properties: ['temperature'], kinds: ['reported'], since: t0 - 60_000, until: Date.now() + 60_000 });
    const got = h.series[0];
    if (!got || !('value' in got)) throw new Error('no raw history series for temperature');
    series = { t: [...got.t], value: got.value.map(Number) };
  }, 400_000);

  afterAll(async () => {
    await edge?.stop();
    await sim?.close();
    await subscriber?.endAsync();
    await Promise.all([broker?.close(), http?.stop(), influx?.close(), redis?.close(), maria?.close()]);
    tmp.cleanup();
  }, 60_000);

  const last = (): number => series.value.at(-1)!;

  it('the twin accepted values throughout', () => {
    expect(series.t.length).toBeGreaterThan(10);
  });

  it('redis holds every value once (the member is the key), with KubeEdge DataModel members', async () => {
    const c = createClient({ url: redis.url });
    await c.connect();
    const members = (await c.zRange('thermostat', 0, -1)).map((m) => JSON.parse(m) as { DeviceName: string; PropertyName: string; Namespace: string; Value: string; Type: string; TimeStamp: number });
    await c.close();
    expect(members.map((m) => m.TimeStamp)).toEqual(series.t);
    expect(members.map((m) => Number(m.Value))).toEqual(series.value);
    expect(members[0]).toMatchObject({ DeviceName: 'thermostat', PropertyName: 'temperature', Namespace: 'default', Type: 'float' });
  });

  it('mysql holds every value once (INSERT IGNORE on the record key) in mapper-framework\'s table', async () => {
    const db = await createConnection({ host: '127.0.0.1', port: maria.port, user: 'root', database: 'kubeedge' });
    const [rows] = await db.query('SELECT field, eid FROM `default/thermostat/temperature` ORDER BY ts, id');
    await db.end();
    const r = rows as { field: string; eid: string }[];
    expect(r.length).toBe(series.t.length);
    expect(new Set(r.map((x) => x.eid)).size).toBe(r.length);
    expect(Number(r.at(-1)?.field)).toBe(last());
  });

  it('influxdb holds every point once (a point is its measurement, tags and time)', async () => {
    const res = (await influx.query('SELECT temperature FROM thermostat', 'twin')) as { results: { series?: { values: [number, number][] }[] }[] };
    const values = res.results[0]?.series?.[0]?.values ?? [];
    expect(values.map(([t]) => t)).toEqual(series.t);
    expect(values.map(([, v]) => v)).toEqual(series.value);
  });

  it('http received every value (at least once; the Idempotency-Key tells repeats apart)', () => {
    const byKey = new Map(http.posts.map((p) => [p.key, p.body]));
    expect(byKey.size).toBe(series.t.length);
    for (const t of series.t) expect(byKey.has(`default/thermostat/temperature/${t}`)).toBe(true);
    const lastBody = new URLSearchParams(http.posts.at(-1)?.body ?? '');
    expect(Number(lastBody.get('temperature'))).toBe(last());
  });

  it('mqtt carried every value (at least once) in mapper-framework\'s text', async () => {
    const expected = series.t.map((t, i) => mqttPayload(TOPIC, { key: '', device: 'default/thermostat', property: 'temperature', value: series.value[i]!, timestamp: t }));
    await eventually(async () => (expected.every((p) => received.includes(p)) ? true : undefined), 30_000);
    expect(received.at(-1)).toBe(expected.at(-1));
  });
});
