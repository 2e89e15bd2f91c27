// Bad telemetry sink configuration (docs/telemetry.md, docs/errors.md): an unknown method, an
// unsupported one (TDEngine, otel), an unreachable host, bad credentials, a missing credentials
// file and a sink that refuses writes each have their coded outcome — and the twin path carries
// on: every update is answered and committed while the sinks fail.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinClient } from '../devicetwin/index.js';
import { MqttBus } from '../eventbus/index.js';
import { loadModels, BUNDLED_MODELS_DIR, parseDeviceManifest } from '../schemas/index.js';
import { buildSinks } from '../telemetry/index.js';
import { parse } from 'yaml';
import { eventually } from './async.js';
import { startEdge, type TestEdge } from './helpers.js';
import { freePort } from './mosquitto.js';
import { requirePeer } from './peers.js';
import { startHttpReceiver, startRedis } from '../bench/sink-servers.js';

function device(name: string, push: string): string {
  return `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: ${name}, namespace: default }
spec:
  deviceModelRef: { name: thermostat }
  nodeName: edge-test
  protocol: { protocolName: external }
  properties:
    - name: temperature
      reportCycle: 100
      pushMethod:
${push}
    - name: setpoint
`;
}

describe.skipIf(!requirePeer('redis'))('telemetry sinks with bad configuration', () => {
  let edge: TestEdge;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let http: Awaited<ReturnType<typeof startHttpReceiver>>;
  let bus: MqttBus;
  let twins: TwinClient;
  const answered: string[] = [];

  beforeAll(async () => {
    redis = await startRedis({ password: 'right-password' });
    http = await startHttpReceiver();
    http.refuse = 500;
    const closed = await freePort();
    process.env.EDGETWIN_TEST_SINK_PASSWORD = 'wrong-password';
    edge = await startEdge(
      {
        'unreachable.yaml': device('unreachable', `        dbMethod: { redis: { redisClientConfig: { addr: "127.0.0.1:${closed}" } } }`),
        'badauth.yaml': device('badauth', `        dbMethod: { redis: { redisClientConfig: { addr: "127.0.0.1:${redis.port}" } } }`),
        'refusing.yaml': device('refusing', `        http: { hostName: "127.0.0.1", port: ${http.port}, requestPath: /push }`),
        'unknown.yaml': device('unknown', '        kafka: { brokers: "127.0.0.1:9092" }\n        otel: { endpointURL: "http://127.0.0.1:4318/v1/metrics" }\n        dbMethod: { TDEngine: { TDEngineClientConfig: { addr: "127.0.0.1:6041", dbName: x } } }'),
      },
      { telemetry: { sinks: { destinations: { [`redis:127.0.0.1:${redis.port}`]: { passwordEnv: 'EDGETWIN_TEST_SINK_PASSWORD' } } } } },
    );
    bus = new MqttBus({ url: edge.url });
    await bus.start();
    twins = new TwinClient(bus);
    for (let i = 0; i < 20; i++) {
      for (const d of ['unreachable', 'badauth', 'refusing', 'unknown']) {
        const r = await twins.reportActual(`default/${d}`, { temperature: (20 + i / 10).toFixed(1) });
        if (Number(r.twin.temperature?.actual?.value) === 20 + i / 10) answered.push(d);
      }
    }
  }, 120_000);

  afterAll(async () => {
    delete process.env.EDGETWIN_TEST_SINK_PASSWORD;
    await bus?.close();
    await edge?.stop();
    await Promise.all([redis?.close(), http?.stop()]);
  });

  it('the twin path carried on: every update was answered with its value', () => {
    expect(answered.length).toBe(80);
  });

  it('an unknown, TDEngine or otel method builds no sink (the manifest warns with its code), the device is served', async () => {
    expect(edge.core.sinkStats().map((s) => s.name).sort()).toEqual(['http:default/refusing/temperature', 'redis:default/badauth/temperature', 'redis:default/unreachable/temperature']);
    const twin = await twins.get('default/unknown');
    expect(Number(twin.twin.temperature?.actual?.value)).toBe(21.9);
  });

  const lastCode = (name: string) => edge.core.sinkStats().find((s) => s.name === name)?.lastError?.code;

  it('an unreachable host: EDGETWIN_ERR_SINK_UNAVAILABLE, values kept in the outbox', async () => {
    await eventually(async () => (lastCode('redis:default/unreachable/temperature') === 'EDGETWIN_ERR_SINK_UNAVAILABLE' ? true : undefined), 30_000);
    expect(edge.core.sinkStats().find((s) => s.name === 'redis:default/unreachable/temperature')?.depth).toBe(20);
  });

  it('bad credentials: EDGETWIN_ERR_SINK_AUTH', async () => {
    await eventually(async () => (lastCode('redis:default/badauth/temperature') === 'EDGETWIN_ERR_SINK_AUTH' ? true : undefined), 30_000);
  });

  it('a sink refusing writes: EDGETWIN_ERR_SINK_REFUSED, and delivered once it accepts', async () => {
    await eventually(async () => (lastCode('http:default/refusing/temperature') === 'EDGETWIN_ERR_SINK_REFUSED' ? true : undefined), 30_000);
    http.refuse = undefined;
    await eventually(async () => (edge.core.sinkStats().find((s) => s.name === 'http:default/refusing/temperature')?.depth === 0 ? true : undefined), 60_000);
    expect(new Set(http.posts.map((p) => p.key)).size).toBe(20);
  });

  it('a credentials file that cannot be read: EDGETWIN_ERR_SINK_CONFIG, no sink for it', () => {
    const { models } = loadModels([BUNDLED_MODELS_DIR]);
    const d = parseDeviceManifest(parse(device('x', '        dbMethod: { redis: { redisClientConfig: { addr: "127.0.0.1:1" } } }')), models);
    const { sinks, problems } = buildSinks(d, models.get('thermostat'), { 'redis:127.0.0.1:1': { passwordFile: path.join('/nonexistent', 'pw') } });
    expect(sinks).toEqual([]);
    expect(problems.map((p) => p.code)).toEqual(['EDGETWIN_ERR_SINK_CONFIG']);
  });
});
