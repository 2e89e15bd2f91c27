// Hostile and broken clients against a real EdgeCore, from raw sockets: one that never reads
// its socket (docs/security.md, "Hostile clients"), packets announced larger than any limit,
// and sockets that never send a CONNECT. Each ends in a coded log line and a counter, and the
// other clients keep being served. Nothing here asserts a speed: "answered" means answered at
// all, within a timeout generous enough for a loaded machine.

import { connect as netConnect, type Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, within } from './async.js';
import { TestClient, thermostatManifest } from './helpers.js';
import { RawMqtt } from './raw-mqtt.js';
import { connectAs, refusedWith, startSecureEdge, type SecureEdge } from './security-rig.js';

const D = '$hw/events/device/default/thermo';
const CHUNK = Buffer.alloc(16 * 1024, 0x61);

/** A twin update from `app`, answered on its result topic (at all, within 20 s). */
async function updateAnswered(app: TestClient, value: string): Promise<Record<string, unknown>> {
  const eventId = `e-${value}`;
  const answer = app.next(`${D}/twin/update/result`, (j) => j.event_id === eventId, 20_000);
  await app.publish(`${D}/twin/update`, { event_id: eventId, twin: { setpoint: { expected: { value } } } });
  return (await answer).json;
}

describe('a client that never reads its socket', () => {
  let edge: SecureEdge;
  let app: TestClient;
  let flooder: MqttClient;

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': thermostatManifest() },
      // Long enough that only the byte bound can end the stuck client's connection here.
      config: { mqtt: { limits: { maxOutgoingBytesPerClient: 1024 * 1024, outgoingStallMs: 600_000 } } },
    });
    app = await TestClient.connect(edge.url, [`${D}/twin/update/result`]);
    flooder = await connectAs(edge.url, undefined, undefined, { clientId: 'flooder' });
  });

  afterAll(async () => {
    await app.close();
    await flooder.endAsync(true);
    await edge.stop();
  });

  it('does not stall the others: QoS 0 to it is dropped and counted, and it stays connected', async () => {
    const stuck = await RawMqtt.connect(edge.url, 'stuck-0');
    stuck.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'junk/#', qos: 0 }, { topic: '$hw/#', qos: 0 }] });
    await stuck.next('suback');
    stuck.socket.pause();

    // ~10 MB for it: more than the kernel's socket buffers (a few MB on loopback) and the
    // 100 deliveries aedes's mqemitter runs at once, which a stalled write used to hold.
    for (let i = 0; i < 600; i++) flooder.publish('junk/x', CHUNK, { qos: 0 });
    // The flood has passed the broker once the flooder's next QoS 1 message is acknowledged.
    await within(flooder.publishAsync('junk/end', 'end', { qos: 1 }), 30_000, 'the flood to pass');

    for (const value of ['21', '22', '23']) expect(await updateAnswered(app, value)).not.toHaveProperty('code');
    // Still connected (on the broker's side: a paused socket would not notice its end).
    expect(edge.core.bus.stats()).toMatchObject({ clients: 3, slowClientsDisconnected: 0 });
    expect(edge.core.bus.stats().outgoingDropped).toBeGreaterThan(0);
    stuck.destroy();
  }, 90_000);

  it('disconnects it with EDGETWIN_ERR_LIMIT_OUTGOING once QoS 1 messages for it pass maxOutgoingBytesPerClient', async () => {
    const stuck = await RawMqtt.connect(edge.url, 'stuck-1');
    stuck.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q1/#', qos: 1 }] });
    await stuck.next('suback');
    stuck.socket.pause();
    const acked = Array.from({ length: 600 }, () => flooder.publishAsync('q1/x', CHUNK, { qos: 1 }));
    await within(Promise.all(acked), 30_000, "the flooder's PUBACKs");
    expect(edge.logs.find((l) => l.code === 'EDGETWIN_ERR_LIMIT_OUTGOING')).toMatchObject({ clientId: 'stuck-1', reason: 'backlog' });
    // A paused socket sees its end only once it reads again.
    stuck.socket.resume();
    await within(stuck.closed, 30_000, 'the stuck subscriber to see its connection closed');
    expect(edge.core.bus.stats().slowClientsDisconnected).toBeGreaterThanOrEqual(1);
    expect(await updateAnswered(app, '24')).not.toHaveProperty('code');
  }, 90_000);
});

describe('a client that stays backed up', () => {
  it('is disconnected after outgoingStallMs', async () => {
    const edge = await startSecureEdge({
      manifests: { 'thermo.yaml': thermostatManifest() },
      config: { mqtt: { limits: { maxOutgoingBytesPerClient: 1024 * 1024, outgoingStallMs: 200 } } },
    });
    const flooder = await connectAs(edge.url, undefined, undefined, { clientId: 'flooder' });
    try {
      const stuck = await RawMqtt.connect(edge.url, 'stalled');
      const tripped = (): boolean => edge.core.bus.stats().slowClientsDisconnected > 0;
      stuck.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'junk/#', qos: 0 }] });
      await stuck.next('suback');
      stuck.socket.pause();
      // QoS 0 only: drops alone would keep it connected forever; the stall deadline does not.
      // Rounds until the broker gives up on it; the deadline is checked as messages arrive.
      for (let round = 0; round < 2_000 && !tripped(); round++) {
        for (let i = 0; i < 50; i++) flooder.publish('junk/x', CHUNK, { qos: 0 });
        await flooder.publishAsync('junk/end', 'end', { qos: 1 });
      }
      expect(edge.logs.find((l) => l.code === 'EDGETWIN_ERR_LIMIT_OUTGOING')).toMatchObject({ clientId: 'stalled', reason: 'stalled' });
      stuck.socket.resume();
      await within(stuck.closed, 30_000, 'the stalled subscriber to see its connection closed');
    } finally {
      await flooder.endAsync(true);
      await edge.stop();
    }
  }, 90_000);
});

/** Writes `header` then zeros, 64 KiB at a time as the socket drains, until it closes or `cap` bytes are out. */
async function pushUntilClosed(socket: Socket, header: Buffer, cap: number): Promise<{ closed: boolean; written: number }> {
  let closed = false;
  socket.once('close', () => (closed = true));
  const zeros = Buffer.alloc(64 * 1024);
  let written = 0;
  socket.write(header);
  while (!closed && written < cap) {
    written += zeros.length;
    if (!socket.write(zeros)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
  }
  if (!closed) await within(new Promise<void>((resolve) => socket.once('close', () => resolve())), 10_000, 'the socket to close').catch(() => undefined);
  return { closed, written };
}

function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = netConnect(Number(port), hostname);
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('connect', () => resolve(socket)));
}

const isClosed = (s: Socket): boolean => s.destroyed || s.closed;

describe('packet sizes and CONNECT, before authentication', () => {
  let edge: SecureEdge;
  const sockets: Socket[] = [];
  const clients: MqttClient[] = [];

  // One node per test: what a test leaves open is counted by the next one's limits.
  beforeEach(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': thermostatManifest() },
      // A deadline no test run reaches: these tests are about sizes and counting.
      config: { mqtt: { limits: { maxConnections: 4, connectTimeoutMs: 60_000 } } },
    });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await edge.stop();
  });

  it('closes sockets announcing a 256 MiB CONNECT, a first packet that is not a CONNECT, or a SUBSCRIBE over maxPacketBytes, before reading the body', async () => {
    const cap = 64 * 1024 * 1024;
    // [0x10 CONNECT | 0xff 0xff 0xff 0x7f]: remaining length 268,435,455 [MQTT-2.2.3].
    const connects = await Promise.all([0, 1, 2].map(async () => pushUntilClosed(await openSocket(edge.url), Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), cap)));
    for (const r of connects) {
      expect(r.closed).toBe(true);
      // What the kernel's buffers took before the close, not what the broker kept.
      expect(r.written).toBeLessThan(16 * 1024 * 1024);
    }
    const firstPublish = await pushUntilClosed(await openSocket(edge.url), Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), cap);
    expect(firstPublish).toMatchObject({ closed: true });
    const raw = await RawMqtt.connect(edge.url, 'big-subscribe');
    // SUBSCRIBE (0x82) announcing 2 MiB: over mqtt.maxPacketBytes (1 MiB by default).
    const subscribe = await pushUntilClosed(raw.socket, Buffer.from([0x82, 0x80, 0x80, 0x80, 0x01]), cap);
    expect(subscribe.closed).toBe(true);
    expect(subscribe.written).toBeLessThan(16 * 1024 * 1024);

    const cut = edge.logs.filter((l) => l.code === 'EDGETWIN_ERR_PACKET_TOO_LARGE');
    expect(cut.filter((l) => l.packet === 'CONNECT')).toHaveLength(3);
    expect(cut.find((l) => l.packet === 'SUBSCRIBE')).toMatchObject({ clientId: 'big-subscribe', length: 2 * 1024 * 1024 });
    expect(edge.logs.find((l) => l.code === 'EDGETWIN_ERR_PROTOCOL_VIOLATION')).toMatchObject({ packet: 'PUBLISH' });
    expect(edge.core.bus.stats()).toMatchObject({ packetsTooLarge: 4, protocolViolations: 1 });
  }, 60_000);

  it('does not count sockets that have sent no CONNECT against maxConnections', async () => {
    const idle = await Promise.all([openSocket(edge.url), openSocket(edge.url)]);
    sockets.push(...idle);
    for (let i = 0; i < 4; i++) clients.push(await connectAs(edge.url, undefined, undefined, { clientId: `real-${i}` }));
    expect(idle.map(isClosed)).toEqual([false, false]);
    expect(await refusedWith(connectAs(edge.url, undefined, undefined, { clientId: 'one-too-many' }))).toBe(3);
    expect(edge.core.bus.stats().pendingConnections).toBe(2);
  });

  it('closes the oldest socket without a CONNECT when maxConnections of them wait, and still lets a client in', async () => {
    const idle: Socket[] = [];
    for (let i = 0; i < 4; i++) idle.push(await openSocket(edge.url));
    sockets.push(...idle);
    const oldestClosed = new Promise<void>((resolve) => idle[0]!.once('close', () => resolve()));
    await eventually(async () => (edge.core.bus.stats().pendingConnections === 4 ? true : undefined));
    const newer = await openSocket(edge.url);
    sockets.push(newer);
    await within(oldestClosed, 10_000, 'the oldest idle socket to be closed');
    expect(edge.core.bus.stats()).toMatchObject({ connectEvictions: 1, pendingConnections: 4 });
    clients.push(await connectAs(edge.url, undefined, undefined, { clientId: 'after-the-crowd' }));
  });
});

describe('connectTimeoutMs', () => {
  it('closes a socket that sends no CONNECT in time, with EDGETWIN_ERR_CONNECT_TIMEOUT', async () => {
    const edge = await startSecureEdge({ manifests: { 'thermo.yaml': thermostatManifest() }, config: { mqtt: { limits: { connectTimeoutMs: 300 } } } });
    try {
      const silent = await openSocket(edge.url);
      // Half a CONNECT, then nothing: a slow trickle is no way around the deadline.
      const trickle = await openSocket(edge.url);
      trickle.write(Buffer.from([0x10, 0x20, 0x00]));
      await within(Promise.all([silent, trickle].map((s) => new Promise((resolve) => s.once('close', resolve)))), 20_000, 'both sockets to be closed');
      expect(edge.logs.filter((l) => l.code === 'EDGETWIN_ERR_CONNECT_TIMEOUT')).toHaveLength(2);
      expect(edge.core.bus.stats().connectTimeouts).toBe(2);
    } finally {
      await edge.stop();
    }
  });
});
