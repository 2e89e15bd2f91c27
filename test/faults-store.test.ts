// The disk filling up under a real EdgeCore, simulated with SQLite's max_page_count (config
// `store.pragmas`): a commit that needs more space fails with EDGETWIN_ERR_STORE_WRITE ("the disk
// is full"). The update is answered with that code and leaves nothing of itself behind, and it
// is never acknowledged: the broker closes the sender's connection instead of PUBACKing, so a
// QoS 1 client (mqtt.js) sends it again after reconnecting, MqttBus.publish rejects, and
// edgetwin's own mapper runtime keeps the reading and sends it again. Reads and writes that fit
// are served throughout. After space is freed every update arrives, and after a restart every
// PUBACKed update is there.

import { connect as netConnect, type Socket } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { silentLogger } from '../edgecore/index.js';
import { MqttBus } from '../eventbus/index.js';
import { MapperRuntime } from '../mappers/index.js';
import { HttpJsonDevice } from '../examples/http-mapper/device.js';
import { httpJsonMapper } from '../examples/http-mapper/mapper.js';
import { startEdge, tempDir, TestClient, type TestEdge } from './helpers.js';
import { within } from './async.js';

const MODEL = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'logbook',
  type: 'object',
  properties: { note: { type: 'string', maxLength: 8000 }, level: { type: 'integer' } },
  additionalProperties: false,
};
const DEVICES = 16;
const ids = Array.from({ length: DEVICES }, (_, i) => `log-${i}`);
const manifest = (name: string, protocol = 'external', extra = ''): string => `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: ${name}, namespace: default }
spec:
  deviceModelRef: { name: logbook }
  protocol: { protocolName: ${protocol}${extra} }
  properties:
    - { name: note, collectCycle: 100${protocol === 'http-json' ? ', visitors: { protocolName: http-json, configData: { key: note } }' : ''} }
    - { name: level }
`;

const topic = (name: string, kind: string): string => `$hw/events/device/default/${name}/${kind}`;
const note = (i: number, c: string): string => c.repeat(3000) + String(i);

/** Resolves with `check()`'s first truthy value, polling every 20 ms. */
async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw MQTT 3.1.1 connection that sends `packets` in one write and records what comes back. */
async function rawBurst(port: number, packets: readonly object[]): Promise<{ received: Packet[]; closed: Promise<void> }> {
  const socket: Socket = netConnect(port, '127.0.0.1');
  const received: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p: Packet) => received.push(p));
  socket.on('data', (d: Buffer) => parser.parse(d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p as Packet))));
  return { received, closed };
}

describe('the disk filling up under a running edgetwin', () => {
  const tmp = tempDir('edgetwin-full-');
  const modelsDir = path.join(tmp.dir, 'models');
  mkdirSync(modelsDir, { recursive: true });
  writeFileSync(path.join(modelsDir, 'logbook.json'), JSON.stringify(MODEL));
  const file = path.join(tmp.dir, 'data', 'edgetwin.db');
  const cleanup: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    tmp.cleanup();
  });

  it('never PUBACKs an update it could not commit; the senders resend, and once space returns every update is there, also after a restart', { timeout: 180_000 }, async () => {
    const device = new HttpJsonDevice({ note: note(100, 'p'), level: 1 });
    const deviceUrl = await device.start();
    cleanup.push(() => device.close());
    const manifests = { ...Object.fromEntries(ids.map((n) => [`${n}.yaml`, manifest(n)])), 'probe.yaml': manifest('probe', 'http-json', `, configData: { url: "${deviceUrl}" }`) };
    const port = await freePort();
    const config = (pragmas: Record<string, number> = {}): Record<string, unknown> => ({
      models: [modelsDir],
      bundledModels: false,
      mqtt: { port },
      metrics: { enabled: false },
      mappers: { enabled: [] },
      store: { pragmas },
      // Each change also appends its value history in the same commit, so on a full disk even a
      // rewrite in place needs a new page and is refused (docs/reliability.md). This test is
      // about the twin path: what fits in existing pages still commits.
      history: { enabled: false },
    });
    let edge: TestEdge | undefined;
    cleanup.push(() => edge?.stop());

    // Size the "disk": what the bound devices take, plus a few pages.
    edge = await startEdge(manifests, config(), tmp.dir);
    await edge.stop();
    const db = new Database(file);
    const used = db.pragma('page_count', { simple: true }) as number;
    db.close();
    edge = await startEdge(manifests, config({ max_page_count: used + 6 }), tmp.dir);

    // The observer sees every answer. Each update comes from its own plain mqtt.js client at
    // QoS 1 that reconnects and then resends what was not PUBACKed, as MQTT requires (one client
    // per update: mqtt.js resends its stored messages one at a time, each after the previous
    // one's PUBACK, so a refused message holds back the ones behind it).
    const observer = await TestClient.connect(edge.url, [topic('+', 'twin/update/result'), topic('+', 'twin/get/result')]);
    cleanup.push(() => observer.close());
    let reconnects = 0;
    const writer = async (name: string): Promise<MqttClient> => {
      const client = await mqtt.connectAsync(edge!.url, { clientId: `writer-${name}`, reconnectPeriod: 100, connectTimeout: 5000 });
      client.on('reconnect', () => reconnects++);
      cleanup.push(() => client.endAsync(true));
      return client;
    };
    const acked = new Set<string>();
    const sent: Array<Promise<void>> = [];
    const answers = (eventId: string): Array<Record<string, unknown>> => observer.on(topic(eventId.split(':')[0]!, 'twin/update/result')).map((m) => m.json).filter((j) => j.event_id === eventId);

    const applied: string[] = [];
    const refused: string[] = [];
    for (const [i, name] of ids.entries()) {
      const eventId = `${name}:fill`;
      const body = JSON.stringify({ event_id: eventId, twin: { note: { actual: { value: note(i, 'a') } } } });
      sent.push((await writer(name)).publishAsync(topic(name, 'twin/update'), body, { qos: 1 }).then(() => void acked.add(name)));
      const first = await until(() => answers(eventId)[0], `the answer to ${eventId}`);
      if (first.error_code === undefined) {
        applied.push(name);
        await until(() => acked.has(name), `the PUBACK of ${eventId}`);
      } else {
        expect(first).toMatchObject({ code: 500, error_code: 'EDGETWIN_ERR_STORE_WRITE', reason: expect.stringMatching(/disk is full/) });
        refused.push(name);
      }
    }
    expect(applied.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    // Each refused writer was disconnected instead of acknowledged, reconnected and resent: its
    // update is answered again and again, and never PUBACKed.
    await until(() => refused.every((n) => answers(`${n}:fill`).length >= 3), 'three attempts of every refused update');
    expect(reconnects).toBeGreaterThanOrEqual(refused.length * 2);
    for (const n of refused) expect(answers(`${n}:fill`).every((a) => a.error_code === 'EDGETWIN_ERR_STORE_WRITE'), n).toBe(true);

    // Reads are served: an applied note is there, a refused one left nothing behind.
    const get = async (name: string, eventId: string): Promise<Record<string, unknown>> => {
      const from = observer.count;
      await observer.publish(topic(name, 'twin/get'), { event_id: eventId });
      return (await observer.next(topic(name, 'twin/get/result'), (j) => j.event_id === eventId, 10_000, from)).json;
    };
    expect(await get(applied[0]!, 'read-applied')).toMatchObject({ twin: { note: { actual: { value: note(0, 'a') } } } });
    expect(await get(refused[0]!, 'read-refused')).toMatchObject({ twin: {}, version: 0 });
    // A change that needs no new pages still commits (the same note, rewritten in place), even
    // while the refused writers' resends keep failing beside it in the same group commits.
    const from = observer.count;
    await within(observer.publish(topic(applied[0]!, 'twin/update'), { event_id: 'rewrite', twin: { note: { actual: { value: note(0, 'b') } } } }), 10_000, 'the rewrite PUBACKed');
    expect((await observer.next(topic(applied[0]!, 'twin/update/result'), (j) => j.event_id === 'rewrite', 10_000, from)).json.error_code).toBeUndefined();

    // Two copies of a refused update in one TCP write: the second finds nothing to change
    // (the first is in memory, its commit still in flight) and must not be acknowledged either.
    const burst = await rawBurst(port, [
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'burst', clean: true, keepalive: 30 },
      ...[1, 2].map((messageId) => ({ cmd: 'publish', topic: topic(refused[0]!, 'twin/update'), qos: 1, messageId, retain: false, dup: false, payload: JSON.stringify({ event_id: `burst-${messageId}`, twin: { note: { actual: { value: note(0, 'a') } } } }) })),
    ]);
    await within(burst.closed, 10_000, 'the broker to close the burst connection');
    expect(burst.received.filter((p) => p.cmd === 'puback')).toEqual([]);

    // edgetwin's own MqttBus: the publish rejects with a coded error.
    const bus = new MqttBus({ url: edge.url, clientId: 'bus', reconnectBaseMs: 50, reconnectMaxMs: 200, logger: silentLogger() });
    await bus.start();
    cleanup.push(() => bus.close());
    const refusedPublish = bus.publish(topic(refused[0]!, 'twin/update'), JSON.stringify({ event_id: 'bus', twin: { note: { actual: { value: note(0, 'c') } } } }), { qos: 1 });
    await expect(within(refusedPublish, 10_000, 'MqttBus.publish to settle')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED' });

    // edgetwin's own mapper runtime over MQTT: the probe's reading is refused; a newer one
    // replaces it in the runtime's outbox while the disk is full; none reaches the twin.
    const runtime = new MapperRuntime({ bus, factories: [httpJsonMapper], logger: silentLogger(), backoff: { baseMs: 50, maxMs: 200, jitter: 0 } });
    cleanup.push(() => runtime.stop());
    const probe = edge.core.twin.list().find((e) => e.instance.name === 'probe')!;
    expect(await runtime.setDevices([{ instance: probe.instance, model: probe.model }])).toEqual([]);
    await until(() => observer.on(topic('probe', 'twin/update/result')).some((m) => m.json.error_code === 'EDGETWIN_ERR_STORE_WRITE'), 'the probe reading refused');
    device.state.note = note(101, 'p');
    await until(() => observer.on(topic('probe', 'twin/update/result')).filter((m) => m.json.error_code === 'EDGETWIN_ERR_STORE_WRITE').length >= 3, 'the probe reading resent');
    expect(edge.core.twin.get('default/probe')?.twins.note).toBeUndefined();
    expect(runtime.status()[0]).toMatchObject({ availability: 'online' }); // the device answers; the edge's disk is full
    for (const n of refused) expect(acked.has(n), `${n} PUBACKed while the disk was full`).toBe(false);
    const stats = edge.core.bus.stats();
    expect(stats.unacknowledged).toBeGreaterThanOrEqual(refused.length * 3);
    expect(stats.ingestFailures).toBe(0);

    // Space freed: the same node restarts without the cap on the same port. The writer and the
    // mapper reconnect by themselves and resend; every update is PUBACKed and applied.
    await edge.stop();
    edge = await startEdge(manifests, config(), tmp.dir);
    await within(Promise.all(sent), 60_000, 'every update PUBACKed once space returned');
    expect([...acked].sort()).toEqual([...ids].sort());
    await until(() => edge!.core.twin.get('default/probe')?.twins.note?.actual?.value === note(101, 'p'), 'the latest probe reading');

    // And after a restart every PUBACKed update is there.
    await runtime.stop();
    await edge.stop();
    edge = await startEdge(manifests, config(), tmp.dir);
    for (const [i, name] of ids.entries()) {
      expect(edge.core.twin.get(`default/${name}`)?.twins.note?.actual?.value, name).toBe(name === applied[0] ? note(0, 'b') : note(i, 'a'));
    }
    expect(edge.core.twin.get('default/probe')?.twins.note?.actual?.value).toBe(note(101, 'p'));
    console.log(
      `disk full: ${applied.length} of ${DEVICES} updates committed before the disk filled, ${refused.length} refused with EDGETWIN_ERR_STORE_WRITE and never PUBACKed ` +
        `(${refused.reduce((n, r) => n + answers(`${r}:fill`).length, 0)} attempts, ${reconnects} reconnects), 0 partial; all ${DEVICES} PUBACKed and present once space returned`,
    );
  });
});
