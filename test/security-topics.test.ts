// Hostile and mistaken topics against a real EdgeCore over real sockets: nothing under `$hw/` is
// retained (a forged retained delta, a rejected request, edgetwin's own answers), every request
// on a device topic that names no device is answered, and U+0000 in a topic closes the
// connection [MQTT-1.5.3-2].

import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { within } from './async.js';
import { connectAs, deviceManifest, rawConnect, request, startSecureEdge, type SecureEdge } from './security-rig.js';

const D = '$hw/events/device';
const DEV = `${D}/default/thermo`;
const ANON = `${D}//twin/update/result`;

type Json = Record<string, unknown>;

/** The next message on `topic` that `accept` takes, parsed. */
function next(client: MqttClient, topic: string, accept: (m: Json, retained: boolean) => boolean = () => true): Promise<{ json: Json; retained: boolean }> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer, packet: { retain?: boolean }): void => {
      if (t !== topic) return;
      const json = JSON.parse(payload.toString()) as Json;
      if (!accept(json, packet.retain === true)) return;
      client.off('message', onMessage);
      resolve({ json, retained: packet.retain === true });
    };
    client.on('message', onMessage);
  });
}

describe('topics', () => {
  let edge: SecureEdge;
  const clients: MqttClient[] = [];
  const as = async (user: string, password: string, clientId: string): Promise<MqttClient> => {
    const c = await connectAs(edge.url, user, password, { clientId });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  let eventN = 0;
  const eventId = (): string => `ev-${++eventN}`;

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': deviceManifest('thermo', 'external') },
      users: {
        root: { role: 'admin', password: 'r' },
        ext: { role: 'mapper', protocols: ['external'], password: 'm' },
        ops: { role: 'writer', password: 'o' },
      },
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await edge.stop();
  });

  describe('nothing under $hw/ is retained', () => {
    it('clears the flag on a forged delta from an admin: delivered live, never replayed to a late subscriber', async () => {
      const root = await as('root', 'r', 'forger');
      const live = await as('root', 'r', 'live-reader');
      await live.subscribeAsync(`${DEV}/twin/update/delta`, { qos: 1 });
      const liveForgery = next(live, `${DEV}/twin/update/delta`);
      const forged = { event_id: 'forged', timestamp: Date.now(), twin: {}, delta: { setpoint: '34' } };
      const before = edge.core.bus.stats().retainCleared;
      await root.publishAsync(`${DEV}/twin/update/delta`, JSON.stringify(forged), { qos: 1, retain: true });
      // A subscriber that was there gets it, as for any publish, without the retain flag.
      expect(await within(liveForgery, 5000, 'the live copy')).toMatchObject({ json: { event_id: 'forged' }, retained: false });
      expect(edge.core.bus.stats().retainCleared).toBe(before + 1);

      // The mapper subscribes later (as on every reconnect): the first delta it sees must be
      // the twin's own, published after it subscribed, not the stored forgery.
      const mapper = await as('ext', 'm', 'late-mapper');
      const first = next(mapper, `${DEV}/twin/update/delta`);
      await mapper.subscribeAsync(`${DEV}/twin/update/delta`, { qos: 1 });
      const ops = await as('ops', 'o', 'ops-1');
      await request(ops, `${DEV}/twin/update`, `${DEV}/twin/update/result`, { twin: { setpoint: { expected: { value: '21' } } } });
      const got = await within(first, 5000, 'the real delta');
      expect(got.json.event_id).not.toBe('forged');
      expect(got).toMatchObject({ retained: false, json: { delta: { setpoint: '21' } } });
      const log = edge.logs.find((l) => l.clientId === 'forger' && typeof l.msg === 'string' && l.msg.startsWith('retain flag cleared'));
      expect(log).toMatchObject({ topic: `${DEV}/twin/update/delta` });
    });

    it('processes a retained request (a rejected one too) without retaining it', async () => {
      const root = await as('root', 'r', 'retainer');
      const bad = eventId();
      const rejected = next(root, `${DEV}/twin/update/result`, (m) => m.event_id === bad);
      await root.subscribeAsync(`${DEV}/twin/update/result`, { qos: 1 });
      await root.publishAsync(`${DEV}/twin/update`, JSON.stringify({ event_id: bad, twin: { setpoint: { expected: { value: 'hot' } } } }), { qos: 1, retain: true });
      expect((await within(rejected, 5000, 'the 400')).json).toMatchObject({ code: 400, error_code: 'EDGETWIN_ERR_VALUE_TYPE' });
      const good = eventId();
      const accepted = next(root, `${DEV}/twin/update/result`, (m) => m.event_id === good);
      await root.publishAsync(`${DEV}/twin/update`, JSON.stringify({ event_id: good, twin: { setpoint: { expected: { value: '22' } } } }), { qos: 1, retain: true });
      expect((await within(accepted, 5000, 'the result')).json).toMatchObject({ twin: { setpoint: { expected: { value: '22' } } } });

      // A late reader of requests (admins only) sees the next live request first, nothing stored.
      const reader = await as('root', 'r', 'request-reader');
      const first = next(reader, `${DEV}/twin/update`);
      await reader.subscribeAsync(`${DEV}/twin/update`, { qos: 1 });
      const sentinel = eventId();
      await root.publishAsync(`${DEV}/twin/update`, JSON.stringify({ event_id: sentinel, twin: {} }), { qos: 1 });
      expect(await within(first, 5000, 'the live request')).toMatchObject({ retained: false, json: { event_id: sentinel } });
    });

    it("never retains edgetwin's own answers, even when asked to in-process; other topics keep MQTT's retain", async () => {
      await edge.core.bus.publish(`${DEV}/twin/update/document`, JSON.stringify({ event_id: 'kept?', timestamp: 0, twin: {} }), { retain: true });
      await edge.core.bus.publish('plant/line-3/status', 'running', { retain: true });
      const reader = await as('root', 'r', 'doc-reader');
      const docs: string[] = [];
      reader.on('message', (t, p: Buffer) => {
        if (t === `${DEV}/twin/update/document`) docs.push((JSON.parse(p.toString()) as Json).event_id as string);
      });
      const status = new Promise<boolean>((resolve) => reader.on('message', (t, _p, packet) => t === 'plant/line-3/status' && resolve(packet.retain)));
      await reader.subscribeAsync([`${DEV}/twin/update/document`, 'plant/line-3/status'], { qos: 1 });
      expect(await within(status, 5000, 'the retained status')).toBe(true);
      const ops = await as('ops', 'o', 'ops-2');
      const id = eventId();
      const doc = next(reader, `${DEV}/twin/update/document`, (m) => m.event_id === id);
      await ops.publishAsync(`${DEV}/twin/update`, JSON.stringify({ event_id: id, twin: { setpoint: { expected: { value: '23' } } } }), { qos: 1 });
      await within(doc, 5000, 'the live document');
      expect(docs).toEqual([id]);
    });
  });

  describe('every request on a device topic is answered', () => {
    const invalid: ReadonlyArray<readonly [what: string, topic: string, reason: RegExp]> = [
      ['upper case', `${D}/Default/ADV-1/twin/update`, /namespace "Default" is not a DNS-1123 label/],
      ['an underscore', `${D}/default/adv_1/twin/update`, /device name "adv_1" is not a DNS-1123 subdomain/],
      ['a percent sign', `${D}/default/%/twin/get`, /device name "%"/],
      ['an over-long name', `${D}/default/${'a'.repeat(254)}/state/update`, /is not a DNS-1123 subdomain/],
      ['the one-segment legacy form', `${D}/thermo/twin/update`, /has one segment: since KubeEdge 1.17 devices are named <namespace>\/<name>, e.g. default\/thermo/],
      ['no id at all', `${D}//twin/update`, /names no device/],
      ['three segments', `${D}/default/x/thermo/twin/update`, /has 3 segments/],
    ];
    it.each(invalid)('answers %s with 400 EDGETWIN_ERR_DEVICE_ID_INVALID on the anonymous result topic', async (_what, topic, reason) => {
      const mapper = await as('ext', 'm', `bad-id-${eventN}`);
      const id = eventId();
      const answer = next(mapper, ANON, (m) => m.event_id === id);
      await mapper.subscribeAsync(ANON, { qos: 1 });
      await mapper.publishAsync(topic, JSON.stringify({ event_id: id, timestamp: Date.now(), twin: { temperature: { actual: { value: '20' } } }, state: 'online' }), { qos: 1 });
      const { json } = await within(answer, 5000, `the answer to ${topic.slice(0, 60)}`);
      expect(json).toMatchObject({ event_id: id, code: 400, error_code: 'EDGETWIN_ERR_DEVICE_ID_INVALID' });
      expect(json.reason).toMatch(reason);
      expect(mapper.connected).toBe(true); // answered, not disconnected
    });

    it('answers a kind that does not exist with EDGETWIN_ERR_TOPIC_INVALID, and does not answer answers', async () => {
      const root = await as('root', 'r', 'kinds');
      await root.subscribeAsync(ANON, { qos: 1 });
      const seen: Json[] = [];
      root.on('message', (t, p: Buffer) => t === ANON && seen.push(JSON.parse(p.toString()) as Json));
      // An admin may publish an answer topic (it is forwarded as such); it is not a request.
      await root.publishAsync(`${D}/Thermo/twin/update/result`, JSON.stringify({ event_id: 'an-answer' }), { qos: 1 });
      const id = eventId();
      const answer = next(root, ANON, (m) => m.event_id === id);
      await root.publishAsync(`${DEV}/twin/updat`, JSON.stringify({ event_id: id }), { qos: 1 });
      expect((await within(answer, 5000, 'the answer')).json).toMatchObject({ code: 400, error_code: 'EDGETWIN_ERR_TOPIC_INVALID' });
      expect(seen.map((m) => m.event_id)).toEqual([id]);
    });
  });

  describe('U+0000 in a topic', () => {
    it('closes the connection of a publish to one, applying and answering nothing [MQTT-1.5.3-2]', async () => {
      const raw = rawConnect(edge.url, { clientId: 'nul-pub', username: 'root', password: 'r' });
      expect(await within(raw.connack, 5000, 'the CONNACK')).toBe(0);
      const { socket, closed: gone } = raw;
      const id = eventId();
      const watcher = await as('root', 'r', 'nul-watch');
      const heard: string[] = [];
      watcher.on('message', (t) => heard.push(t));
      await watcher.subscribeAsync([`${D}/#`], { qos: 1 });
      socket.write(mqttPacket.generate({ cmd: 'publish', topic: `${DEV}\u0000/twin/update`, payload: JSON.stringify({ event_id: id, twin: {} }), qos: 1, messageId: 1, retain: false, dup: false }));
      await within(gone, 5000, 'the connection to close');
      // The watcher sees its own next message first: nothing of the NUL publish went anywhere.
      const mark = new Promise<void>((resolve) => watcher.on('message', (t) => t === `${DEV}/twin/get` && resolve()));
      await watcher.publishAsync(`${DEV}/twin/get`, '{}', { qos: 1 });
      await within(mark, 5000, 'the marker');
      expect(heard.filter((t) => t.includes('\u0000'))).toEqual([]);
      expect(edge.logs.some((l) => l.code === 'EDGETWIN_ERR_TOPIC_INVALID' && String(l.msg).includes('U+0000'))).toBe(true);
    });

    it('closes the connection of a subscription to one', async () => {
      const raw = rawConnect(edge.url, { clientId: 'nul-sub', username: 'root', password: 'r' });
      expect(await within(raw.connack, 5000, 'the CONNACK')).toBe(0);
      const { socket, closed: gone } = raw;
      socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${D}/+/+/twin\u0000/#`, qos: 0 }] }));
      await within(gone, 5000, 'the connection to close');
    });
  });

  it('still serves everyone after all of this', async () => {
    const mapper = await as('ext', 'm', 'after');
    const got = await request(mapper, `${DEV}/twin/get`, `${DEV}/twin/get/result`, {});
    expect(got).toMatchObject({ twin: { setpoint: { expected: { value: '23' } } } });
    expect(edge.core.bus.stats().ingestFailures).toBe(0);
  });
});
