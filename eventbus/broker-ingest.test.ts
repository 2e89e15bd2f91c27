// EmbeddedBroker: ingest handlers (PUBACK after commit, arrival order, failures), the
// authorizer hooks and the payload limit, against real mqtt.js clients on port 0.
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { edgetwinError } from '../errors.js';
import type { ClientInfo } from './admission.js';
import type { MessageOrigin } from './bus.js';
import { closeOf, deferred, within } from '../test/async.js';
import { brokerFixture } from '../test/broker-fixture.js';

/** Resolves with the first message on `topic` that `c` receives. */
function nextMessage(c: MqttClient, topic: string): Promise<string> {
  return within(
    new Promise((resolve) => {
      const onMessage = (t: string, payload: Buffer): void => {
        if (t !== topic) return;
        c.off('message', onMessage);
        resolve(payload.toString());
      };
      c.on('message', onMessage);
    }),
    5_000,
    `a message on ${topic}`,
  );
}

function captureLogs(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

const UPDATE = '$hw/events/device/ns/dev-1/twin/update';
const UPDATE_FILTER = '$hw/events/device/+/+/twin/update';

const { startBroker, client } = brokerFixture();

describe('ingest handlers', () => {
  it('PUBACKs a QoS 1 publish only after the handler settles, then forwards it', async () => {
    const b = await startBroker();
    const gate = deferred();
    const entered = deferred<{ payload: string; origin: MessageOrigin }>();
    b.handle(UPDATE_FILTER, async (_topic, payload, origin) => {
      entered.resolve({ payload: payload.toString(), origin });
      await gate.promise;
    });
    const app = await client(b);
    await app.subscribeAsync('$hw/events/device/#', { qos: 1 });
    const forwarded = nextMessage(app, UPDATE);
    const mapper = await client(b, { clientId: 'mapper-1' });

    let acked = false;
    const ack = mapper.publishAsync(UPDATE, '{"twin":{}}', { qos: 1 }).then(() => {
      acked = true;
    });
    expect(await within(entered.promise)).toEqual({ payload: '{"twin":{}}', origin: { clientId: 'mapper-1' } });
    // A full QoS 1 round trip through the broker: a premature PUBACK would have arrived by now.
    await app.publishAsync('probe', 'p', { qos: 1 });
    expect(acked).toBe(false);

    gate.resolve();
    await within(ack, 5_000, 'PUBACK');
    expect(await forwarded).toBe('{"twin":{}}');
    expect(b.stats()).toMatchObject({ ingested: 1, ingestFailures: 0 });
  });

  it('starts a burst from one client in arrival order, pipelined, and PUBACKs in order [MQTT-4.6.0-2]', async () => {
    const b = await startBroker();
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    b.handle('burst/+', async (_topic, payload) => {
      active++;
      maxActive = Math.max(maxActive, active);
      const n = Number(payload.toString());
      seen.push(n);
      // uneven work, so a handler started early would finish late
      for (let i = 0; i < (n * 7) % 5; i++) await new Promise(setImmediate);
      active--;
    });
    const mapper = await client(b);
    const count = 300;
    const acks: number[] = [];
    // topics the handler does not own are queued behind the ones it does
    await within(
      Promise.all(
        Array.from({ length: count }, (_, i) =>
          mapper
            .publishAsync(i % 5 === 0 ? `free/${i}` : `burst/${i % 3}`, String(i), { qos: i % 2 === 0 ? 1 : 0 })
            .then(() => void acks.push(i)),
        ),
      ),
      10_000,
      'the burst',
    );
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => i).filter((i) => i % 5 !== 0));
    // Handlers are started in arrival order without waiting for the previous one to finish
    // (so a store can group a burst into one commit); only the PUBACKs are kept in order.
    expect(maxActive).toBeGreaterThan(1);
    const qos1Acks = acks.filter((i) => i % 2 === 0);
    expect(qos1Acks).toEqual([...qos1Acks].sort((x, y) => x - y));
  });

  it('acknowledges and forwards a message whose handler rejects, and logs the failure', async () => {
    const { logger, lines } = captureLogs();
    const b = await startBroker({ logger });
    b.handle(UPDATE_FILTER, () => Promise.reject(new Error('store on fire')));
    const app = await client(b);
    await app.subscribeAsync(UPDATE);
    const forwarded = nextMessage(app, UPDATE);
    const mapper = await client(b, { clientId: 'mapper-2' });
    await within(mapper.publishAsync(UPDATE, 'x', { qos: 1 }), 5_000, 'PUBACK');
    expect(await forwarded).toBe('x');
    const failure = lines.find((l) => l.msg === 'ingest handler failed; message acknowledged anyway');
    expect(failure).toMatchObject({ level: 50, topic: UPDATE, clientId: 'mapper-2', err: { message: 'store on fire' } });
    expect(b.stats()).toMatchObject({ ingested: 1, ingestFailures: 1 });
  });

  it('does not acknowledge a message whose handler rejects with a coded error: closes the client, rejects an in-process publish', async () => {
    const { logger, lines } = captureLogs();
    const b = await startBroker({ logger });
    let attempts = 0;
    b.handle(UPDATE_FILTER, () => {
      attempts++;
      return Promise.reject(edgetwinError('EDGETWIN_ERR_STORE_WRITE', 'could not commit: the disk is full'));
    });
    const app = await client(b);
    await app.subscribeAsync(UPDATE);
    let forwarded = false;
    app.on('message', () => void (forwarded = true));
    const mapper = await client(b, { clientId: 'mapper-3' });
    let acked = false;
    void mapper.publishAsync(UPDATE, 'x', { qos: 1 }).then(() => void (acked = true), () => undefined);
    await within(closeOf(mapper), 5_000, 'the connection closed');
    await expect(b.publish(UPDATE, 'y', { qos: 1 })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_WRITE' });
    await app.publishAsync('probe', 'p', { qos: 1 }); // a round trip: a forward would have arrived
    expect({ acked, forwarded, attempts }).toEqual({ acked: false, forwarded: false, attempts: 2 });
    expect(lines.find((l) => l.msg === 'message not acknowledged: could not commit: the disk is full')).toMatchObject({ level: 40, code: 'EDGETWIN_ERR_STORE_WRITE', clientId: 'mapper-3' });
    expect(b.stats()).toMatchObject({ ingested: 2, ingestFailures: 0, unacknowledged: 2 });
  });

  it('makes an in-process publish wait for the handler', async () => {
    const b = await startBroker();
    const gate = deferred();
    const entered = deferred();
    const delivered: string[] = [];
    b.handle(UPDATE_FILTER, async () => {
      entered.resolve();
      await gate.promise;
    });
    await b.subscribe(UPDATE_FILTER, (_t, payload) => void delivered.push(payload.toString()));
    let done = false;
    const published = b.publish(UPDATE, 'inside').then(() => {
      done = true;
    });
    await within(entered.promise);
    await new Promise(setImmediate);
    expect(done).toBe(false);
    expect(delivered).toEqual([]);
    gate.resolve();
    await within(published);
    expect(delivered).toEqual(['inside']);
  });

  it('allows one handler per filter; unsubscribe hands the filter back', async () => {
    const b = await startBroker();
    const calls: string[] = [];
    const owner = b.handle('h/+', () => void calls.push('first'));
    expect(() => b.handle('h/+', () => undefined)).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_INTERNAL' }));
    expect(() => b.handle('h/#/x', () => undefined)).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_TOPIC_INVALID' }));
    await b.publish('h/1', 'x');
    await owner.unsubscribe();
    await b.publish('h/2', 'x');
    b.handle('h/+', () => void calls.push('second'));
    await b.publish('h/3', 'x');
    expect(calls).toEqual(['first', 'second']);
  });
});

describe('authorizer hooks', () => {
  it('closes the connection of a client whose publish is denied; nothing is ingested or forwarded', async () => {
    const b = await startBroker();
    const asked: { client: ClientInfo; topic: string }[] = [];
    b.addPublishAuthorizer((client, topic) => {
      asked.push({ client, topic });
      if (topic.startsWith('secret/')) throw edgetwinError('EDGETWIN_ERR_INTERNAL', 'not for you');
    });
    const ingested: string[] = [];
    b.handle('#', (topic) => void ingested.push(topic));
    const app = await client(b);
    await app.subscribeAsync('#');
    const received: string[] = [];
    app.on('message', (topic) => void received.push(topic));

    const evil = await client(b, { clientId: 'evil', username: 'eve', password: 'pw' });
    const closed = closeOf(evil);
    evil.publish('secret/plans', 'x', { qos: 1 });
    await within(closed, 5_000, 'the denied client to be disconnected');

    const end = nextMessage(app, 'public/end');
    await app.publishAsync('public/end', 'x', { qos: 1 });
    await end;
    expect(ingested).toEqual(['public/end']);
    expect(received).toEqual(['public/end']);
    expect(asked[0]).toEqual({
      client: { clientId: 'evil', username: 'eve', remoteAddress: '127.0.0.1' },
      topic: 'secret/plans',
    });
    expect(b.stats().denied).toBe(1);
  });

  it('grants QoS 128 to a denied subscription and keeps the client connected', async () => {
    const b = await startBroker();
    const remove = b.addSubscribeAuthorizer((_client, filter) => {
      if (filter.startsWith('secret/')) throw edgetwinError('EDGETWIN_ERR_INTERNAL', 'not for you');
    });
    const c = await client(b);
    const err: unknown = await c.subscribeAsync('secret/#').catch((e: unknown) => e);
    expect(err).toMatchObject({ packet: { granted: [128] } });
    expect(await c.subscribeAsync('open/#', { qos: 1 })).toEqual([{ topic: 'open/#', qos: 1 }]);
    const got = nextMessage(c, 'open/1');
    await b.publish('open/1', 'ok');
    expect(await got).toBe('ok');
    remove();
    expect(await c.subscribeAsync('secret/#')).toEqual([{ topic: 'secret/#', qos: 0 }]);
  });
});

describe('maxPayloadBytes', () => {
  it('hands a slightly oversized payload to the handler and cuts off a grossly oversized PUBLISH', async () => {
    const { logger, lines } = captureLogs();
    const b = await startBroker({ maxPayloadBytes: 1_000, logger });
    expect(b.maxPayloadBytes).toBe(1_000);
    const sizes: number[] = [];
    b.handle('big/+', (_topic, payload) => void sizes.push(payload.length));
    const c = await client(b);
    await c.publishAsync('big/1', Buffer.alloc(1_500), { qos: 1 });
    expect(sizes).toEqual([1_500]);

    const closed = closeOf(c);
    c.publish('big/2', Buffer.alloc(200_000), { qos: 1 });
    await within(closed, 5_000, 'the oversized client to be disconnected');
    expect(sizes).toEqual([1_500]);
    expect(lines.some((l) => l.verdict === 'too-large')).toBe(true);
  });
});
