// MqttBus against the embedded broker and, when installed, a private mosquitto.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { edgetwinError, isEdgetwinError } from '../errors.js';
import { EmbeddedBroker } from './broker.js';
import { MqttBus, type MqttBusOptions } from './mqtt-bus.js';
import { deferred, within } from '../test/async.js';
import { requirePeer } from '../test/peers.js';

/** Collects `topic payload` strings; `until(n)` resolves once n have arrived. */
class Inbox {
  readonly got: string[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  push = (topic: string, payload: Buffer): void => {
    this.got.push(`${topic} ${payload.toString()}`);
    this.waiters = this.waiters.filter((w) => (this.got.length >= w.n ? (w.resolve(), false) : true));
  };
  until(n: number): Promise<string[]> {
    if (this.got.length >= n) return Promise.resolve(this.got);
    return within(new Promise<void>((resolve) => this.waiters.push({ n, resolve })), 5_000, `${n} messages`).then(() => this.got);
  }
}

const closers: (() => Promise<void>)[] = [];

async function startBroker(port = 0): Promise<EmbeddedBroker> {
  const broker = new EmbeddedBroker({ port });
  await broker.start();
  closers.push(() => broker.close());
  return broker;
}

async function startBus(options: MqttBusOptions): Promise<MqttBus> {
  const bus = new MqttBus({ reconnectBaseMs: 20, reconnectMaxMs: 200, connectTimeoutMs: 5_000, ...options });
  closers.push(() => bus.close());
  await bus.start();
  return bus;
}

/** A loopback port nothing listens on (bound, read, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('MqttBus against the embedded broker', () => {
  it('publishes and subscribes; local handlers share one broker subscription', async () => {
    const broker = await startBroker();
    const subscribes: string[] = [];
    broker.addSubscribeAuthorizer((_client, filter) => void subscribes.push(filter));
    const bus = await startBus({ url: broker.url, clientId: 'mapper-a' });
    const a = new Inbox();
    const b = new Inbox();
    const wide = new Inbox();
    await bus.subscribe('m/+/x', a.push);
    await bus.subscribe('m/+/x', () => {
      throw new Error('a broken listener');
    });
    await bus.subscribe('m/+/x', b.push, { qos: 1 }); // upgrades the shared subscription
    await bus.subscribe('m/#', wide.push);
    expect(subscribes).toEqual(['m/+/x', 'm/+/x', 'm/#']);

    await broker.publish('m/1/x', 'one');
    await broker.publish('m/2/y', 'two');
    expect(await a.until(1)).toEqual(['m/1/x one']);
    expect(await b.until(1)).toEqual(['m/1/x one']);
    expect(await wide.until(2)).toEqual(['m/1/x one', 'm/2/y two']);

    const inside = new Inbox();
    await broker.subscribe('up/#', (topic, payload, origin) => {
      inside.push(topic, payload);
      expect(origin).toEqual({ clientId: 'mapper-a' });
    });
    await bus.publish('up/1', 'hello');
    expect(await inside.until(1)).toEqual(['up/1 hello']);
    expect(bus.stats()).toMatchObject({ connected: true, connects: 1, messagesOut: 1 });
  });

  it('resolves a QoS 1 publish on PUBACK, i.e. after the ingest handler', async () => {
    const broker = await startBroker();
    const gate = deferred();
    const entered = deferred();
    broker.handle('q/+', async () => {
      entered.resolve();
      await gate.promise;
    });
    const bus = await startBus({ url: broker.url });
    let acked = false;
    const published = bus.publish('q/1', 'x', { qos: 1 }).then(() => {
      acked = true;
    });
    await within(entered.promise);
    const other = await startBus({ url: broker.url });
    await other.publish('probe', 'p', { qos: 1 }); // a full round trip
    expect(acked).toBe(false);
    gate.resolve();
    await within(published, 5_000, 'PUBACK');
  });

  it('stops dispatching and unsubscribes at the broker when the last local handler goes', async () => {
    const broker = await startBroker();
    const bus = await startBus({ url: broker.url });
    const a = new Inbox();
    const sub1 = await bus.subscribe('s/#', a.push);
    const sub2 = await bus.subscribe('s/#', a.push, { owner: 'x' });
    await broker.publish('s/1', '1');
    await a.until(2);
    await sub1.unsubscribe();
    await sub1.unsubscribe();
    await bus.unsubscribeAll('x');
    const before = broker.stats().messagesOut;
    const witness = new Inbox();
    await bus.subscribe('w', witness.push);
    await broker.publish('s/2', '2');
    await broker.publish('w', 'end');
    await witness.until(1);
    expect(a.got).toEqual(['s/1 1', 's/1 1']);
    expect(broker.stats().messagesOut - before).toBe(1); // only 'w' was forwarded
    expect(sub2).toBeDefined();
  });

  it('reconnects after the broker restarts on the same port and resubscribes', async () => {
    const first = new EmbeddedBroker({ port: 0 });
    await first.start();
    const port = first.port;
    const bus = await startBus({ url: first.url });
    const inbox = new Inbox();
    await bus.subscribe('r/#', inbox.push, { qos: 1 });
    await first.publish('r/1', 'before');
    await inbox.until(1);

    const changes: boolean[] = [];
    bus.onConnectionChange((connected) => void changes.push(connected));
    await first.close();
    const second = new EmbeddedBroker({ port });
    const resubscribed = deferred();
    second.addSubscribeAuthorizer((_client, filter) => {
      if (filter === 'r/#') resubscribed.resolve();
    });
    await second.start();
    closers.push(() => second.close());
    await within(resubscribed.promise, 5_000, 'resubscription');
    await second.publish('r/2', 'after', { qos: 1 });
    expect(await inbox.until(2)).toEqual(['r/1 before', 'r/2 after']);
    expect(bus.stats()).toMatchObject({ connected: true, connects: 2 });
    expect(changes).toEqual([false, true]);
    const inside = new Inbox();
    await second.subscribe('back', inside.push);
    await bus.publish('back', 'ok', { qos: 1 });
    await inside.until(1);
  });

  it('fails with EDGETWIN_ERR_BROKER_CONNECT when nothing answers in time', async () => {
    const port = await freePort();
    const bus = new MqttBus({ url: `mqtt://user:secret@127.0.0.1:${port}`, connectTimeoutMs: 300, reconnectBaseMs: 50 });
    const err: unknown = await bus.start().catch((e: unknown) => e);
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_BROKER_CONNECT')).toBe(true);
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect((err as Error).message).not.toContain('secret');
    await bus.close();
    await expect(bus.publish('a', 'x')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_INTERNAL' });
  });

  it('closes promptly and idempotently while the broker is down', async () => {
    const broker = new EmbeddedBroker({ port: 0 });
    await broker.start();
    const bus = await startBus({ url: broker.url });
    const changes: boolean[] = [];
    const offline = new Promise<void>((resolve) =>
      bus.onConnectionChange((connected) => {
        changes.push(connected);
        if (!connected) resolve();
      }),
    );
    await broker.close();
    await within(offline, 5_000, 'the bus to notice');
    await within(Promise.all([bus.close(), bus.close()]), 5_000, 'close');
    expect(bus.connected).toBe(false);
    expect(changes).toEqual([false]);
  });

  it('a QoS 1 publish the broker does not acknowledge rejects with EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED, and mqtt.js does not resend it', async () => {
    const broker = await startBroker();
    const seen: string[] = [];
    let refuse = true;
    broker.handle('in/+', (_topic, payload) => {
      seen.push(payload.toString());
      // bus.ts: a coded rejection means "not taken": the broker closes the connection, no PUBACK.
      if (refuse) return Promise.reject(edgetwinError('EDGETWIN_ERR_STORE_WRITE', 'the disk is full'));
    });
    const bus = await startBus({ url: broker.url });
    const back = new Promise<void>((resolve) => bus.onConnectionChange((up) => up && resolve()));
    await expect(within(bus.publish('in/a', '1', { qos: 1 }), 5_000, 'the publish to settle')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED' });
    await within(back, 5_000, 'the reconnect');
    refuse = false;
    await within(bus.publish('in/a', '2', { qos: 1 }), 5_000, 'the second publish');
    // '1' was not sent again behind the caller's back on reconnect: the caller owns that.
    expect(seen).toEqual(['1', '2']);
  });

  it('a QoS 1 publish while disconnected rejects at once with EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED', async () => {
    const port = await freePort();
    const broker = await startBroker(port);
    const bus = await startBus({ url: broker.url, reconnectBaseMs: 60_000, reconnectMaxMs: 60_000 });
    const down = new Promise<void>((resolve) => bus.onConnectionChange((up) => up || resolve()));
    await broker.close();
    await within(down, 5_000, 'the bus to notice');
    await expect(within(bus.publish('x/y', '1', { qos: 1 }), 5_000, 'the publish to settle')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED', message: expect.stringMatching(/not connected/) });
  });

  it('close() during start() ends the attempt with EDGETWIN_ERR_BROKER_CONNECT', async () => {
    const bus = new MqttBus({ url: `mqtt://127.0.0.1:${await freePort()}`, connectTimeoutMs: 10_000 });
    const started = bus.start().catch((e: unknown) => e);
    // Both well inside the 10 s connect timeout, which is what they must not wait for.
    await within(bus.close(), 5_000, 'close');
    expect(await within(started, 5_000, 'start to fail')).toMatchObject({ code: 'EDGETWIN_ERR_BROKER_CONNECT' });
  });
});

describe('MqttBus against a broker that answers in one write', () => {
  it('hands a message sent right behind the SUBACK to the new subscriber', async () => {
    // A minimal broker on a raw socket: CONNACK, then SUBACK and a matching PUBLISH together,
    // as the embedded broker does when a SUBSCRIBE and a twin/get arrive back to back.
    const server = createServer((socket) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p: Packet) => {
        if (p.cmd === 'connect') socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
        if (p.cmd === 'subscribe') {
          const suback = mqttPacket.generate({ cmd: 'suback', messageId: p.messageId, granted: [0] });
          const publish = mqttPacket.generate({ cmd: 'publish', topic: 'answer', payload: Buffer.from('right behind'), qos: 0, retain: false, dup: false });
          socket.write(Buffer.concat([suback, publish]));
        }
      });
      socket.on('data', (d: Buffer) => parser.parse(d));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const bus = await startBus({ url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const inbox = new Inbox();
    await bus.subscribe('answer', inbox.push);
    expect(await inbox.until(1)).toEqual(['answer right behind']);
  });
});

const MOSQUITTO = '/usr/sbin/mosquitto';

describe.skipIf(!requirePeer('mosquitto'))('MqttBus against mosquitto', () => {
  let dir: string;
  let child: ChildProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'edgetwin-mosquitto-'));
    const conf = join(dir, 'mosquitto.conf');
    // `user root`: we run as root and mosquitto would otherwise drop to a `mosquitto` user.
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n`);
    child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    url = `mqtt://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await within(exited, 5_000, 'mosquitto to exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes and subscribes across two buses with QoS 1', async () => {
    // start() retries until mosquitto listens: no readiness sleep needed
    const sub = await startBus({ url });
    const pub = await startBus({ url });
    const inbox = new Inbox();
    await sub.subscribe('$hw/events/device/+/+/twin/update', inbox.push, { qos: 1 });
    await pub.publish('$hw/events/device/ns/a/twin/update', '{"twin":{}}', { qos: 1 });
    expect(await inbox.until(1)).toEqual(['$hw/events/device/ns/a/twin/update {"twin":{}}']);
  });

  it('ignores a retained message under $hw/ that the broker replays, and never retains there itself', async () => {
    const forger = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    closers.push(() => forger.endAsync(true));
    const delta = '$hw/events/device/default/thermo/twin/update/delta';
    // mosquitto keeps what it is asked to: a retained forgery waits for the next subscriber.
    await forger.publishAsync(delta, '{"event_id":"forged","delta":{"setpoint":"34"}}', { qos: 1, retain: true });
    const mapper = await startBus({ url });
    const inbox = new Inbox();
    await mapper.subscribe(delta, inbox.push, { qos: 1 });
    await forger.publishAsync(delta, '{"event_id":"live"}', { qos: 1 });
    expect(await inbox.until(1)).toEqual([`${delta} {"event_id":"live"}`]);
    expect(mapper.stats().retainedDropped).toBe(1);
    await forger.publishAsync(delta, '', { qos: 1, retain: true }); // clears the forgery for later tests

    // The bus's own publish with retain: true is sent without the flag under $hw/.
    const result = '$hw/events/device/default/thermo/twin/update/result';
    await mapper.publish(result, 'answer', { qos: 1, retain: true });
    await mapper.publish('plant/status', 'up', { qos: 1, retain: true });
    const late = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    closers.push(() => late.endAsync(true));
    const seen: string[] = [];
    const status = new Promise<void>((resolve) => late.on('message', (t: string) => (seen.push(t), t === 'plant/status' && resolve())));
    await late.subscribeAsync([result, 'plant/status'], { qos: 1 });
    await within(status, 5_000, 'the retained status');
    expect(seen).toEqual(['plant/status']);
  });

  it('with MQTT 5, dispatches overlapping filters exactly once by subscription identifier', async () => {
    const sub = await startBus({ url, protocolVersion: 5 });
    const pub = await startBus({ url, protocolVersion: 5 });
    const narrow = new Inbox();
    const wide = new Inbox();
    const end = new Inbox();
    await sub.subscribe('o/+', narrow.push, { qos: 1 });
    await sub.subscribe('o/#', wide.push, { qos: 1 });
    await sub.subscribe('end', end.push, { qos: 1 });
    await pub.publish('o/1', 'x', { qos: 1 });
    await pub.publish('o/1/2', 'y', { qos: 1 });
    await pub.publish('end', 'z', { qos: 1 });
    await end.until(1);
    expect(narrow.got).toEqual(['o/1 x']);
    expect(wide.got).toEqual(['o/1 x', 'o/1/2 y']);
  });
});

describe('MqttBus when the broker refuses a subscription', () => {
  it('rejects with EDGETWIN_ERR_ACCESS_DENIED naming the user and the filter, and keeps working', async () => {
    const broker = await startBroker();
    broker.addSubscribeAuthorizer((_client, filter) => {
      if (filter.startsWith('secret/')) throw new Error('not yours');
    });
    const url = broker.url.replace('mqtt://', 'mqtt://dash:pw@');
    const bus = await startBus({ url });
    const err: unknown = await bus.subscribe('secret/x', () => undefined).then(() => undefined, (e: unknown) => e);
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_ACCESS_DENIED')).toBe(true);
    expect((err as Error).message).toContain('user "dash" may not subscribe to secret/x');
    expect((err as Error).message).toContain('SUBACK 0x80');
    expect((err as Error).message).not.toContain(':pw@');
    const inbox = new Inbox();
    await bus.subscribe('open/x', inbox.push);
    await bus.publish('open/x', 'still here');
    expect(await inbox.until(1)).toEqual(['open/x still here']);
  });
});
