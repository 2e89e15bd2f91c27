// Packets a client sends back to back, from a raw socket, against a real EdgeCore (with its
// limiter and ACL installed, so every subscription is authorized asynchronously): each is
// honoured in the order sent [MQTT-4.6.0], and a QoS 2 retransmission is processed once
// [MQTT-4.3.3-2] — on the same connection and after a reconnect of a persistent session.

import type { Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thermostatManifest } from './helpers.js';
import { RawMqtt } from './raw-mqtt.js';
import { connectAs, startSecureEdge, type SecureEdge } from './security-rig.js';
import type { MqttClient } from 'mqtt';

const D = '$hw/events/device/default/thermo';

describe('packets read together are handled in order', () => {
  let edge: SecureEdge;
  let publisher: MqttClient;
  const raws: RawMqtt[] = [];
  const raw = async (clientId: string, clean = true): Promise<RawMqtt> => {
    const r = await RawMqtt.connect(edge.url, clientId, { clean });
    raws.push(r);
    return r;
  };

  beforeAll(async () => {
    edge = await startSecureEdge({ manifests: { 'thermo.yaml': thermostatManifest() } });
    publisher = await connectAs(edge.url, undefined, undefined, { clientId: 'publisher' });
  });

  afterAll(async () => {
    for (const r of raws) r.destroy();
    await publisher.endAsync(true);
    await edge.stop();
  });

  it('honours an UNSUBSCRIBE sent right after its SUBSCRIBE, and a PUBLISH right after a SUBSCRIBE reaches it', async () => {
    const c = await raw('flip');
    const filters = ['x/1', 'x/2', 'x/3', 'x/4', 'x/5'];
    const burst: Packet[] = filters.flatMap((topic, i) => [
      { cmd: 'subscribe', messageId: 2 * i + 1, subscriptions: [{ topic, qos: 0 }] } as const,
      { cmd: 'unsubscribe', messageId: 2 * i + 2, unsubscriptions: [topic] } as const,
    ]);
    // …and a subscription kept, with this client's own publish to it right behind.
    burst.push({ cmd: 'subscribe', messageId: 100, subscriptions: [{ topic: 'marker', qos: 0 }] }, { cmd: 'publish', topic: 'marker', payload: Buffer.from('mine'), qos: 0, retain: false, dup: false });
    c.send(...burst);
    await c.next('suback', (p) => p.cmd === 'suback' && p.messageId === 100);
    await c.next('unsuback', (p) => p.cmd === 'unsuback' && p.messageId === 10);
    const mine = await c.next('publish', (p) => p.cmd === 'publish' && p.topic === 'marker');
    expect(mine.cmd === 'publish' && mine.payload.toString()).toBe('mine');

    // Deliveries from one publisher arrive in its order: once 'marker' is here, any x/n would be too.
    const seen = c.received.length;
    for (const topic of filters) await publisher.publishAsync(topic, 'after unsubscribe', { qos: 1 });
    await publisher.publishAsync('marker', 'end', { qos: 1 });
    await c.next('publish', (p) => p.cmd === 'publish' && p.topic === 'marker' && p.payload.toString() === 'end', 10_000, seen);
    expect(c.received.filter((p) => p.cmd === 'publish' && p.topic.startsWith('x/'))).toEqual([]);
  });

  it('reads nothing behind a CONNECT until its CONNACK: 100 publishes pipelined behind it are all processed', async () => {
    // aedes queues what it parses before the CONNACK, and drops the connection at 42 packets
    // (queueLimit); the broker no longer reads them before the client is authenticated.
    const got: string[] = [];
    const all = new Promise<void>((resolve) => publisher.on('message', (t: string) => void (got.push(t), got.length === 100 && resolve())));
    await publisher.subscribeAsync('pipe/#', { qos: 1 });
    const c = await RawMqtt.open(edge.url);
    raws.push(c);
    const publishes: Packet[] = Array.from({ length: 100 }, (_, i) => ({ cmd: 'publish', topic: `pipe/${i}`, payload: Buffer.from(String(i)), qos: 1, messageId: i + 1, retain: false, dup: false }));
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'pipeliner', keepalive: 0 }, ...publishes);
    await c.next('puback', (p) => p.cmd === 'puback' && p.messageId === 100);
    await all;
    expect(got).toEqual(publishes.map((p) => (p.cmd === 'publish' ? p.topic : '')));
  });

  it('processes a QoS 2 retransmission (same packet id, DUP) once: one version, no 409', async () => {
    const c = await raw('qos2-same');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${D}/twin/update/result`, qos: 0 }] });
    await c.next('suback');
    const before = edge.core.twin.get('default/thermo')!.version;
    const update = (dup: boolean): Packet => ({
      cmd: 'publish',
      topic: `${D}/twin/update`,
      payload: Buffer.from(JSON.stringify({ event_id: 'q2', timestamp: Date.now(), version: before, twin: { setpoint: { expected: { value: '22' } } } })),
      qos: 2,
      messageId: 42,
      retain: false,
      dup,
    });
    // The original and its retransmission in one read: the copy arrives while the first is
    // still being committed, before aedes has stored it.
    c.send(update(false), update(true));
    await c.next('pubrec');
    await c.next('pubrec', () => true, 10_000, c.received.findIndex((p) => p.cmd === 'pubrec') + 1);
    c.send({ cmd: 'pubrel', messageId: 42 });
    await c.next('pubcomp');
    // Every answer to the two copies was published before their PUBRECs were sent.
    await flush(c);

    const results = c.messages(`${D}/twin/update/result`).filter((r) => r.event_id === 'q2');
    expect(results).toHaveLength(1);
    expect(results[0]).not.toHaveProperty('code');
    expect(edge.core.twin.get('default/thermo')!.version).toBe(before + 1);
    expect(edge.core.bus.stats().qos2Duplicates).toBeGreaterThanOrEqual(1);
  });

  it('processes a QoS 2 message resent after a reconnect of its persistent session once', async () => {
    const first = await raw('qos2-session', false);
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${D}/twin/update/result`, qos: 0 }] });
    await first.next('suback');
    const before = edge.core.twin.get('default/thermo')!.version;
    const update = (dup: boolean): Packet => ({
      cmd: 'publish',
      topic: `${D}/twin/update`,
      // With the version it was written against: applied again, it would be answered 409.
      payload: Buffer.from(JSON.stringify({ event_id: 'q2s', timestamp: Date.now(), version: before, twin: { setpoint: { expected: { value: '23' } } } })),
      qos: 2,
      messageId: 7,
      retain: false,
      dup,
    });
    first.send(update(false));
    await first.next('pubrec');
    const answered = await first.next('publish', (p) => p.cmd === 'publish' && p.topic === `${D}/twin/update/result`);
    expect(answered.cmd === 'publish' && JSON.parse(answered.payload.toString())).toMatchObject({ event_id: 'q2s', version: before + 1 });
    // Gone before PUBREL: [MQTT-4.4.0-1] it resends the PUBLISH, DUP set, when it comes back.
    first.destroy();
    await first.closed;
    const again = await raw('qos2-session', false);
    again.send(update(true));
    await again.next('pubrec');
    again.send({ cmd: 'pubrel', messageId: 7 });
    await again.next('pubcomp');
    await flush(again);
    expect(again.messages(`${D}/twin/update/result`).filter((r) => r.event_id === 'q2s')).toEqual([]);
    expect(edge.core.twin.get('default/thermo')!.version).toBe(before + 1);
  });
});

/** A twin/get round trip: every answer published to `c` before it has arrived once it returns. */
async function flush(c: RawMqtt): Promise<void> {
  const at = c.received.length;
  c.send({ cmd: 'subscribe', messageId: 900, subscriptions: [{ topic: `${D}/twin/get/result`, qos: 0 }] });
  await c.next('suback', (p) => p.cmd === 'suback' && p.messageId === 900, 10_000, at);
  c.send({ cmd: 'publish', topic: `${D}/twin/get`, payload: Buffer.from('{"event_id":"flush"}'), qos: 0, retain: false, dup: false });
  await c.next('publish', (p) => p.cmd === 'publish' && p.topic === `${D}/twin/get/result`, 10_000, at);
}
