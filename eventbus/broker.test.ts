// EmbeddedBroker: the in-process bus and MQTT clients on real sockets, wildcards, lifecycle.
// Ingest, authorizers and the payload limit are in broker-ingest.test.ts.
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../errors.js';
import { EmbeddedBroker } from './broker.js';
import type { MessageOrigin } from './bus.js';
import { closeOf, within } from '../test/async.js';
import { brokerFixture } from '../test/broker-fixture.js';

/** Rejects if `promise` has not settled within `ms`: tests await events, never sleep. */

interface Received {
  topic: string;
  payload: string;
  origin?: MessageOrigin;
}

/** Collects messages; `until(pred)` resolves once a matching one has arrived. */
class Inbox {
  readonly messages: Received[] = [];
  private waiters: { pred: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  push = (topic: string, payload: Buffer, origin?: MessageOrigin): void => {
    const m: Received = { topic, payload: payload.toString(), ...(origin ? { origin } : {}) };
    this.messages.push(m);
    this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
  };

  until(pred: (m: Received) => boolean, what = 'message'): Promise<Received> {
    const found = this.messages.find(pred);
    if (found) return Promise.resolve(found);
    return within(new Promise((resolve) => this.waiters.push({ pred, resolve })), 5_000, what);
  }

  topics(): string[] {
    return this.messages.map((m) => m.topic);
  }
}

function clientInbox(c: MqttClient): Inbox {
  const inbox = new Inbox();
  c.on('message', (topic, payload) => inbox.push(topic, payload));
  return inbox;
}

const { startBroker, client } = brokerFixture();

describe('EmbeddedBroker pub/sub', () => {
  it('delivers an in-process publish to an MQTT client and an MQTT publish in-process', async () => {
    const b = await startBroker();
    const c = await client(b, { clientId: 'app-1' });
    const fromBroker = clientInbox(c);
    await c.subscribeAsync('to/client', { qos: 1 });
    const inProcess = new Inbox();
    await b.subscribe('to/broker', inProcess.push);

    await b.publish('to/client', 'hello client', { qos: 1 });
    expect(await fromBroker.until((m) => m.topic === 'to/client')).toMatchObject({ payload: 'hello client' });

    await c.publishAsync('to/broker', 'hello broker', { qos: 1 });
    const got = await inProcess.until((m) => m.topic === 'to/broker');
    expect(got).toEqual({ topic: 'to/broker', payload: 'hello broker', origin: { clientId: 'app-1' } });

    await b.publish('to/broker', Buffer.from('from inside'));
    expect((await inProcess.until((m) => m.payload === 'from inside')).origin).toEqual({});

    expect(b.stats()).toMatchObject({ clients: 1, messagesIn: 1, messagesOut: 1, publishedInProcess: 2, deliveredInProcess: 2 });
  });

  it('delivers a retained message to a late subscriber', async () => {
    const b = await startBroker();
    await b.publish('retained/a', 'kept', { qos: 1, retain: true });
    const c = await client(b);
    const inbox = clientInbox(c);
    await c.subscribeAsync('retained/#');
    expect(await inbox.until((m) => m.topic === 'retained/a')).toMatchObject({ payload: 'kept' });
  });

  it('keeps delivering to other subscribers when one throws or rejects', async () => {
    const lines: { msg?: string }[] = [];
    const logger = pino({ level: 'error' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg?: string }) });
    const b = await startBroker({ logger });
    await b.subscribe('fragile/#', () => {
      throw new Error('sync boom');
    });
    await b.subscribe('fragile/#', () => Promise.reject(new Error('async boom')));
    const good = new Inbox();
    await b.subscribe('fragile/#', good.push);
    const c = await client(b);
    const remote = clientInbox(c);
    await c.subscribeAsync('fragile/#');

    await b.publish('fragile/1', 'one');
    await c.publishAsync('fragile/2', 'two', { qos: 1 });
    await b.publish('fragile/3', 'three');
    await good.until((m) => m.topic === 'fragile/3');
    await remote.until((m) => m.topic === 'fragile/3');
    expect(good.topics()).toEqual(['fragile/1', 'fragile/2', 'fragile/3']);
    expect(remote.topics()).toEqual(['fragile/1', 'fragile/2', 'fragile/3']);
    await within(
      (async () => {
        while (lines.filter((l) => l.msg === 'subscriber failed').length < 6) await new Promise(setImmediate);
      })(),
      5_000,
      'six logged subscriber failures',
    );
  });

  it('matches + and # wildcards, and keeps $ topics from leading wildcards [MQTT-4.7.2-1]', async () => {
    const b = await startBroker();
    const plus = new Inbox();
    const hash = new Inbox();
    const all = new Inbox();
    const dollar = new Inbox();
    await b.subscribe('w/+/c', plus.push);
    await b.subscribe('w/#', hash.push);
    await b.subscribe('#', all.push);
    await b.subscribe('$hw/#', dollar.push);
    const c = await client(b);
    const remote = clientInbox(c);
    await c.subscribeAsync(['+/b/#', '#']);

    for (const topic of ['w/b/c', 'w/b/d', 'w', 'x/b', '$hw/events/x', 'w/b/c/d', 'end']) await b.publish(topic, topic);
    await Promise.all([all, remote].map((inbox) => inbox.until((m) => m.topic === 'end')));
    expect(plus.topics()).toEqual(['w/b/c']);
    expect(hash.topics()).toEqual(['w/b/c', 'w/b/d', 'w', 'w/b/c/d']);
    expect(all.topics()).toEqual(['w/b/c', 'w/b/d', 'w', 'x/b', 'w/b/c/d', 'end']);
    expect(dollar.topics()).toEqual(['$hw/events/x']);
    // aedes sends one copy per client even though two of its filters match [MQTT-3.3.5-1].
    expect(remote.topics()).toEqual(['w/b/c', 'w/b/d', 'w', 'x/b', 'w/b/c/d', 'end']);
  });

  it('unsubscribes one subscription, or all of an owner', async () => {
    const b = await startBroker();
    const a = new Inbox();
    const owned = new Inbox();
    const witness = new Inbox();
    const sub = await b.subscribe('u/#', a.push);
    await b.subscribe('u/#', owned.push, { owner: 'mapper' });
    await b.subscribe('u/+', owned.push, { owner: 'mapper' });
    await b.subscribe('u/#', witness.push);
    await b.publish('u/1', '1');
    await sub.unsubscribe();
    await sub.unsubscribe(); // idempotent
    await b.unsubscribeAll('mapper');
    await b.publish('u/2', '2');
    await witness.until((m) => m.topic === 'u/2');
    expect(a.topics()).toEqual(['u/1']);
    expect(owned.topics()).toEqual(['u/1', 'u/1']);
  });

  it('rejects invalid topics and use before start with coded errors', async () => {
    const idle = new EmbeddedBroker({ port: 0 });
    await expect(idle.publish('a', 'x')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_INTERNAL' });
    const b = await startBroker();
    await expect(b.publish('a/+', 'x')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_TOPIC_INVALID' });
    await expect(b.publish('', 'x')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_TOPIC_INVALID' });
    await expect(b.subscribe('a/#/b', () => undefined)).rejects.toMatchObject({ code: 'EDGETWIN_ERR_TOPIC_INVALID' });
    await expect(b.start()).rejects.toMatchObject({ code: 'EDGETWIN_ERR_INTERNAL' });
  });
});

describe('EmbeddedBroker lifecycle', () => {
  it('close() is idempotent, disconnects every socket and frees the port', async () => {
    const b = new EmbeddedBroker({ port: 0 });
    await b.close(); // before start: a no-op
    const fresh = new EmbeddedBroker({ port: 0 });
    await fresh.start();
    const port = fresh.port;
    expect(fresh.url).toBe(`mqtt://127.0.0.1:${port}`);
    const c = await connectAsync(fresh.url, { reconnectPeriod: 0 });
    const raw = netConnect(port, '127.0.0.1'); // never sends CONNECT
    await within(once(raw, 'connect'));
    const clientClosed = closeOf(c);
    const rawClosed = closeOf(raw);

    await within(Promise.all([fresh.close(), fresh.close()]), 5_000, 'close');
    await fresh.close();
    await within(clientClosed, 5_000, 'client close');
    await within(rawClosed, 5_000, 'raw socket close');
    await c.endAsync(true);
    await expect(fresh.publish('a', 'x')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_INTERNAL' });

    const again = new EmbeddedBroker({ port });
    await again.start();
    expect(again.port).toBe(port);
    await again.close();
  });

  it('fails with EDGETWIN_ERR_BROKER_LISTEN when the port is taken', async () => {
    const a = await startBroker();
    const b = new EmbeddedBroker({ port: a.port });
    const err: unknown = await b.start().catch((e: unknown) => e);
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_BROKER_LISTEN')).toBe(true);
    expect((err as Error).message).toContain(`127.0.0.1:${a.port}`);
    expect((err as Error).message).toContain('EADDRINUSE');
    // the first broker is unaffected
    const c = await client(a);
    const inbox = clientInbox(c);
    await c.subscribeAsync('still/here');
    await a.publish('still/here', 'yes');
    await inbox.until((m) => m.topic === 'still/here');
    // a failed start may be retried once the port is free
    const port = a.port;
    await a.close();
    await b.start();
    expect(b.port).toBe(port);
    await b.close();
  });

  it('close() during start() waits for it and leaves nothing open', async () => {
    const b = new EmbeddedBroker({ port: 0 });
    const started = b.start();
    const closed = b.close();
    await started;
    await closed;
    expect(() => b.port).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_INTERNAL' }));
    await expect(b.start()).rejects.toMatchObject({ code: 'EDGETWIN_ERR_INTERNAL' });
  });
});
