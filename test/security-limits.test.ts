// Each limit of mqtt.limits against a real EdgeCore: it ends in a coded error (a CONNACK, a
// disconnect, a result, a refused device, or a slowed client), and the node keeps serving.

import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thermostatManifest } from './helpers.js';
import { closed, connectAs, refusedWith, request, startSecureEdge, within, type SecureEdge } from './security-rig.js';

const D = '$hw/events/device/default';

/** A raw MQTT 3.1.1 connection: CONNECT, await CONNACK, then write bytes as given. */
async function rawClient(url: string, clientId: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = netConnect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30 }));
  await within(new Promise<void>((resolve) => socket.once('data', () => resolve())), 5000, 'CONNACK');
  return socket;
}

describe('mqtt.limits', () => {
  let edge: SecureEdge;
  const clients: MqttClient[] = [];
  const anon = async (clientId: string): Promise<MqttClient> => {
    const c = await connectAs(edge.url, undefined, undefined, { clientId });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': thermostatManifest() },
      config: {
        mqtt: {
          maxPayloadBytes: 1024,
          limits: { maxConnections: 4, maxInflightPerClient: 5, publishRatePerClient: 20, publishBurstPerClient: 2, maxTopicDepth: 8, maxTwinsPerMessage: 2 },
        },
      },
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await edge.stop();
  });

  it('refuses a CONNECT beyond maxConnections with "server unavailable" (3)', async () => {
    await Promise.all([anon('c1'), anon('c2'), anon('c3'), anon('c4')]);
    expect(await refusedWith(connectAs(edge.url, undefined, undefined, { clientId: 'c5' }))).toBe(3);
    expect(edge.logs.find((l) => l.clientId === 'c5')).toMatchObject({ code: 'EDGETWIN_ERR_LIMIT_CONNECTIONS' });
    await Promise.all(clients.splice(0).map((c) => c.endAsync()));
  });

  it('disconnects a client with more than maxInflightPerClient messages awaiting acknowledgement', async () => {
    const socket = await rawClient(edge.url, 'flood');
    const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const burst = Array.from({ length: 50 }, (_, i) =>
      mqttPacket.generate({
        cmd: 'publish',
        topic: `${D}/thermo/twin/update`,
        payload: JSON.stringify({ event_id: `f${i}`, twin: { temperature: { actual: { value: String(i) } } } }),
        qos: 1,
        messageId: i + 1,
        retain: false,
        dup: false,
      }),
    );
    socket.write(Buffer.concat(burst));
    await within(gone, 5000, 'the flooding client to be disconnected');
    expect(edge.core.bus.stats().inflightExceeded).toBeGreaterThanOrEqual(1);
    expect(edge.logs.find((l) => l.code === 'EDGETWIN_ERR_LIMIT_INFLIGHT')).toMatchObject({ clientId: 'flood' });
  });

  it('slows a client down to publishRatePerClient after its burst, losing nothing, in order', async () => {
    const c = await anon('steady');
    const t0 = performance.now();
    // 12 QoS 1 updates at once: 2 pass on the burst, the other 10 at 20/s (≥ 500 ms) — and at
    // most 5 await their PUBACK at any time, or maxInflightPerClient would cut the client off.
    for (let i = 0; i < 12; i += 4) {
      await Promise.all(Array.from({ length: 4 }, (_, k) => c.publishAsync(`${D}/thermo/twin/update`, JSON.stringify({ twin: { temperature: { actual: { value: String(100 + i + k) } } } }), { qos: 1 })));
    }
    expect(performance.now() - t0).toBeGreaterThanOrEqual(450);
    const got = await request(c, `${D}/thermo/twin/get`, `${D}/thermo/twin/get/result`, {});
    expect(got).toMatchObject({ twin: { temperature: { actual: { value: '111' } } } });
    expect(edge.logs.some((l) => l.code === 'EDGETWIN_ERR_LIMIT_RATE' && l.clientId === 'steady')).toBe(true);
  });

  it('refuses topics deeper than maxTopicDepth: a publish disconnects, a subscription gets 128', async () => {
    const c = await anon('deep');
    const granted = await c.subscribeAsync('a/b/c/d/e/f/g/h/i').catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(granted).toEqual([128]);
    const gone = closed(c);
    c.publish('a/b/c/d/e/f/g/h/i', 'x', { qos: 1 });
    await within(gone, 5000, 'the deep publisher to be disconnected');
    expect(edge.logs.some((l) => l.clientId === 'deep' && (l.err as { code?: string } | undefined)?.code === 'EDGETWIN_ERR_LIMIT_TOPIC_DEPTH')).toBe(true);
  });

  it('answers an update naming more than maxTwinsPerMessage properties with EDGETWIN_ERR_LIMIT_TWINS, applying nothing', async () => {
    const c = await anon('wide');
    const answer = await request(c, `${D}/thermo/twin/update`, `${D}/thermo/twin/update/result`, {
      twin: { setpoint: { expected: { value: '20' } }, mode: { expected: { value: 'heat' } }, power: { expected: { value: 'true' } } },
    });
    expect(answer).toMatchObject({ code: 400, error_code: 'EDGETWIN_ERR_LIMIT_TWINS' });
    expect(edge.core.twin.get('default/thermo')?.twins.setpoint).toBeUndefined();
  });

  it('answers a payload over maxPayloadBytes with EDGETWIN_ERR_PAYLOAD_TOO_LARGE and keeps serving', async () => {
    const c = await anon('big');
    await c.subscribeAsync('$hw/events/device//twin/update/result');
    const answer = new Promise<Record<string, unknown>>((resolve) => c.once('message', (_t, p: Buffer) => resolve(JSON.parse(p.toString()) as Record<string, unknown>)));
    await c.publishAsync(`${D}/thermo/twin/update`, JSON.stringify({ twin: {}, pad: 'x'.repeat(1500) }), { qos: 1 });
    expect(await within(answer, 5000, 'the error result')).toMatchObject({ error_code: 'EDGETWIN_ERR_PAYLOAD_TOO_LARGE' });
    const got = await request(c, `${D}/thermo/twin/get`, `${D}/thermo/twin/get/result`, {});
    expect(got).toMatchObject({ twin: { temperature: { actual: { value: '111' } } } });
  });
});

describe('device limits', () => {
  it('leaves out a device whose model exceeds maxPropertiesPerDevice, and each device beyond maxDevices', async () => {
    const tooRich = await startSecureEdge({ manifests: { 'thermo.yaml': thermostatManifest() }, config: { mqtt: { limits: { maxPropertiesPerDevice: 3 } } } });
    try {
      expect(tooRich.core.twin.get('default/thermo')).toBeUndefined();
      expect(tooRich.logs.find((l) => l.code === 'EDGETWIN_ERR_LIMIT_PROPERTIES')).toMatchObject({ device: 'default/thermo' });
      expect(tooRich.core.twin.refusals().map((e) => e.code)).toEqual(['EDGETWIN_ERR_LIMIT_PROPERTIES']);
    } finally {
      await tooRich.stop();
    }
    const crowded = await startSecureEdge({
      manifests: { 'a.yaml': thermostatManifest('a'), 'b.yaml': thermostatManifest('b'), 'c.yaml': thermostatManifest('c') },
      config: { mqtt: { limits: { maxDevices: 2 } } },
    });
    try {
      expect(crowded.core.twin.list().map((e) => e.instance.id).sort()).toEqual(['default/a', 'default/b']);
      expect(crowded.core.twin.refusals()).toMatchObject([{ code: 'EDGETWIN_ERR_LIMIT_DEVICES', details: [{ path: 'default/c' }] }]);
    } finally {
      await crowded.stop();
    }
  });
});
