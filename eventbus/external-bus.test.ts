// ExternalBus against a broker whose every packet the test writes and reads (a raw socket
// speaking MQTT through mqtt-packet): when PUBACKs go out, in which order, and whether the
// next messages are ingested while the first one's commit is still pending.

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, eventually, within } from '../test/async.js';
import { ExternalBus } from './external-bus.js';

const TOPIC = (n: number): string => `$hw/events/device/default/d${n}/twin/update`;
const FILTER = '$hw/events/device/+/+/twin/update';

/** An MQTT 3.1.1 broker the test drives: CONNACK, SUBACK granting QoS 1, PUBACK when told, and a log of what the client sent. */
class RawBroker {
  readonly received: Packet[] = [];
  /** Client PUBLISHes per connection (0-based), by topic. */
  readonly published: string[][] = [];
  /** PUBACK the client's QoS 1 publishes. */
  ackPublishes = true;
  private server: Server | undefined;
  private socket: Socket | undefined;
  private readonly waiters: Array<() => void> = [];
  readonly connected = deferred<void>();
  readonly subscribed = deferred<void>();

  async start(): Promise<string> {
    const server = createServer((socket) => {
      this.socket = socket;
      const connection: string[] = [];
      this.published.push(connection);
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (packet: Packet) => {
        this.received.push(packet);
        if (packet.cmd === 'connect') {
          socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
          this.connected.resolve();
        } else if (packet.cmd === 'subscribe') {
          socket.write(mqttPacket.generate({ cmd: 'suback', messageId: packet.messageId!, granted: packet.subscriptions.map(() => 1) }));
          this.subscribed.resolve();
        } else if (packet.cmd === 'publish') {
          connection.push(packet.topic);
          if (packet.qos === 1 && this.ackPublishes) socket.write(mqttPacket.generate({ cmd: 'puback', messageId: packet.messageId! }));
        } else if (packet.cmd === 'pingreq') {
          socket.write(mqttPacket.generate({ cmd: 'pingresp' }));
        }
        for (const w of this.waiters.splice(0)) w();
      });
      socket.on('data', (d) => parser.parse(d));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Sends QoS 1 PUBLISHes with these ids in one TCP write (one socket read on the other side). */
  publish(ids: readonly number[]): void {
    const frames = ids.map((id) => mqttPacket.generate({ cmd: 'publish', topic: TOPIC(id), payload: Buffer.from(`{"n":${id}}`), qos: 1, messageId: id, retain: false, dup: false }));
    this.socket!.write(Buffer.concat(frames));
  }

  pubacks(): number[] {
    return this.received.flatMap((p) => (p.cmd === 'puback' ? [p.messageId!] : []));
  }

  /** Resolves once `probe` holds (re-checked on every packet the client sends). */
  async until(probe: () => boolean, what: string): Promise<void> {
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => (probe() ? resolve() : void this.waiters.push(check));
        check();
      }),
      5000,
      what,
    );
  }

  /** Drops the current connection (as a broker restart does). */
  drop(): void {
    this.socket?.destroy();
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('ExternalBus: PUBACK after commit, pipelined, in order', () => {
  let broker: RawBroker | undefined;
  let bus: ExternalBus | undefined;
  afterEach(async () => {
    await bus?.close();
    await broker?.close();
    bus = broker = undefined;
  });

  it('ingests a burst together, acknowledges each message only after its handler settles, and in arrival order', async () => {
    broker = new RawBroker();
    const url = await broker.start();
    bus = new ExternalBus({ url, clientId: 'edgetwin-test' });
    const commits = new Map<number, ReturnType<typeof deferred<void>>>();
    const started: number[] = [];
    const allStarted = deferred<void>();
    bus.handle(FILTER, (topic) => {
      const n = Number(/d(\d+)\//.exec(topic)![1]);
      started.push(n);
      const commit = deferred<void>();
      commits.set(n, commit);
      if (started.length === 3) allStarted.resolve();
      return commit.promise;
    });
    await bus.start();
    await bus.subscribed();
    const connect = broker.received.find((p) => p.cmd === 'connect');
    expect(connect).toMatchObject({ clean: false, clientId: 'edgetwin-test' });
    expect(broker.received.find((p) => p.cmd === 'subscribe')).toMatchObject({ subscriptions: [{ topic: FILTER, qos: 1 }] });

    broker.publish([1, 2, 3]);
    // All three are being committed at once: mqtt.js did not wait for the first commit.
    await within(allStarted.promise, 5000, 'three ingests in flight');
    expect(started).toEqual([1, 2, 3]);
    // Let the client's packet loop turn: still nothing acknowledged.
    await new Promise((r) => setImmediate(r));
    expect(broker.pubacks()).toEqual([]);

    // Commits finish out of order; PUBACKs still go out 1, 2, 3, each only after its own commit.
    commits.get(3)!.resolve();
    commits.get(2)!.resolve();
    await new Promise((r) => setImmediate(r));
    expect(broker.pubacks()).toEqual([]);
    commits.get(1)!.resolve();
    await broker.until(() => broker!.pubacks().length === 3, 'three PUBACKs');
    expect(broker.pubacks()).toEqual([1, 2, 3]);
    expect(bus.status()).toMatchObject({ connected: true, inflight: 0, acked: 3, ingested: 3 });
  });

  it('holds a message no handler owns yet, and drops (never acknowledges) what is held at close', async () => {
    broker = new RawBroker();
    const url = await broker.start();
    bus = new ExternalBus({ url, clientId: 'edgetwin-test' });
    let calls = 0;
    const sub = bus.handle(FILTER, () => {
      calls++;
    });
    await bus.start();
    await bus.subscribed();
    // The handler goes away (as during a stop); the broker subscription stays.
    await sub.unsubscribe();
    broker.publish([7]);
    await eventually(async () => (bus!.status().inflight === 1 ? true : undefined));
    await new Promise((r) => setImmediate(r));
    expect(broker.pubacks()).toEqual([]);
    // A handler comes back: the held message is ingested and acknowledged.
    const again = deferred<void>();
    const sub2 = bus.handle(FILTER, () => {
      calls++;
      again.resolve();
    });
    await within(again.promise, 5000, 'held message ingested');
    await broker.until(() => broker!.pubacks().length === 1, 'PUBACK 7');
    expect(calls).toBe(1);
    // Held at close: close() does not wait for it, and it is never acknowledged (the broker
    // redelivers it to the next session).
    await sub2.unsubscribe();
    broker.publish([8]);
    await eventually(async () => (bus!.status().inflight === 1 ? true : undefined));
    await within(bus.close(), 5000, 'close with a held message');
    await broker.until(() => broker!.received.some((p) => p.cmd === 'disconnect'), 'DISCONNECT');
    expect(broker.pubacks()).toEqual([7]);
    expect(calls).toBe(1);
    expect(broker.received.some((p) => p.cmd === 'unsubscribe')).toBe(false);
  });

  it("a resumed session's backlog, delivered before any handler is registered, waits for its handler", async () => {
    broker = new RawBroker();
    const url = await broker.start();
    bus = new ExternalBus({ url, clientId: 'edgetwin-test', ingestFilters: [FILTER] });
    await bus.start();
    await bus.subscribed();
    // As mosquitto does right after the CONNACK of a resumed session.
    broker.publish([5, 6]);
    await eventually(async () => (bus!.status().inflight === 2 ? true : undefined));
    await new Promise((r) => setImmediate(r));
    expect(broker.pubacks()).toEqual([]);
    const seen: number[] = [];
    const both = deferred<void>();
    bus.handle(FILTER, (topic) => {
      seen.push(Number(/d(\d+)\//.exec(topic)![1]));
      if (seen.length === 2) both.resolve();
    });
    await within(both.promise, 5000, 'backlog ingested');
    expect(seen).toEqual([5, 6]);
    await broker.until(() => broker!.pubacks().length === 2, 'PUBACKs 5, 6');
    expect(broker.pubacks()).toEqual([5, 6]);
  });

  it('a QoS 1 publish that mqtt.js gives up on when the connection drops again is sent once reconnected', async () => {
    broker = new RawBroker();
    broker.ackPublishes = false;
    const url = await broker.start();
    bus = new ExternalBus({ url, clientId: 'edgetwin-test', reconnectBaseMs: 20, reconnectMaxMs: 40 });
    await bus.start();
    // A is in flight (never acknowledged), then the connection drops.
    const a = bus.publish('t/a', 'a', { qos: 1 });
    await broker.until(() => broker!.published[0]?.includes('t/a') === true, 'A sent');
    broker.drop();
    // On the second connection mqtt.js resends A and, until A's PUBACK, queues new publishes
    // (client.js _storeProcessingQueue); C is queued there when that connection drops too, and
    // mqtt.js fails it ("Connection closed").
    await broker.until(() => broker!.published[1]?.includes('t/a') === true, 'A resent');
    const c = bus.publish('t/c', 'c', { qos: 1 });
    await new Promise((r) => setImmediate(r));
    broker.ackPublishes = true;
    broker.drop();
    // The third connection acknowledges everything: both resolve, C having been sent again.
    await within(Promise.all([a, c]), 10_000, 'A and C acknowledged');
    expect(broker.published.at(-1)).toContain('t/c');
  });

  it('a message for a filter with no ingest (a plain subscription) is acknowledged at once', async () => {
    broker = new RawBroker();
    const url = await broker.start();
    bus = new ExternalBus({ url, clientId: 'edgetwin-test' });
    await bus.start();
    const seen = deferred<string>();
    await bus.subscribe(FILTER, (topic) => seen.resolve(topic), { qos: 1 });
    broker.publish([4]);
    expect(await within(seen.promise, 5000, 'delivery')).toBe(TOPIC(4));
    await broker.until(() => broker!.pubacks().length === 1, 'PUBACK 4');
  });
});
