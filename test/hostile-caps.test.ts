// What one client can make the broker keep, and write to its log, against a real EdgeCore:
// subscriptions per client, retained messages (count and bytes), and the log lines its
// refusals provoke (client-chosen fields cut short, lines per client budgeted).

import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thermostatManifest } from './helpers.js';
import { RawMqtt } from './raw-mqtt.js';
import { closed, connectAs, refusedWith, startSecureEdge, within, type SecureEdge } from './security-rig.js';

describe('subscriptions and retained messages', () => {
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
      config: { mqtt: { limits: { maxSubscriptionsPerClient: 5, maxRetainedMessages: 3, maxRetainedBytes: 200 } } },
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await edge.stop();
  });

  it('grants 128 to subscriptions beyond maxSubscriptionsPerClient, counts a re-subscription once, and frees a slot on UNSUBSCRIBE', async () => {
    const c = await RawMqtt.connect(edge.url, 'collector');
    const seven = Array.from({ length: 7 }, (_, i) => ({ topic: `s/${i}`, qos: 0 as const }));
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: seven });
    expect(await c.next('suback')).toMatchObject({ granted: [0, 0, 0, 0, 0, 128, 128] });
    // s/0 again is a replacement, not a sixth subscription; s/9 is one too many.
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 's/0', qos: 1 }, { topic: 's/9', qos: 0 }] });
    expect(await c.next('suback', (p) => p.cmd === 'suback' && p.messageId === 2)).toMatchObject({ granted: [1, 128] });
    c.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['s/1'] }, { cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 's/9', qos: 0 }] });
    expect(await c.next('suback', (p) => p.cmd === 'suback' && p.messageId === 4)).toMatchObject({ granted: [0] });
    expect(edge.core.bus.stats().subscriptionsRefused).toBe(3);
    expect(edge.logs.find((l) => l.code === 'EDGETWIN_ERR_LIMIT_SUBSCRIPTIONS')).toMatchObject({ clientId: 'collector', filter: 's/5' });
    // Still connected, and its subscriptions work.
    const p = await anon('feeder');
    await p.publishAsync('s/9', 'hello', { qos: 0 });
    const got = await c.next('publish', (m) => m.cmd === 'publish' && m.topic === 's/9');
    expect(got.cmd === 'publish' && got.payload.toString()).toBe('hello');
    c.destroy();
  });

  it('refuses a retained publish beyond maxRetainedMessages or maxRetainedBytes, and always allows replacing within them and clearing', async () => {
    const a = await anon('retainer');
    for (const n of [1, 2, 3]) await a.publishAsync(`r/${n}`, `v${n}`, { qos: 1, retain: true });
    expect(edge.core.bus.stats()).toMatchObject({ retainedMessages: 3, retainedBytes: 3 * (3 + 2) });

    const gone = closed(a);
    a.publish('r/4', 'v4', { qos: 1, retain: true });
    await within(gone, 5000, 'the fourth retained publish to be refused');
    expect(edge.logs.find((l) => l.code === 'EDGETWIN_ERR_LIMIT_RETAINED')).toMatchObject({ clientId: 'retainer', topic: 'r/4' });

    const b = await anon('tidy');
    await b.publishAsync('r/1', 'new', { qos: 1, retain: true });
    await b.publishAsync('r/2', '', { qos: 1, retain: true });
    await b.publishAsync('r/4', 'v4', { qos: 1, retain: true });
    const tooBig = closed(b);
    b.publish('r/3', 'x'.repeat(300), { qos: 1, retain: true });
    await within(tooBig, 5000, 'a retained payload over maxRetainedBytes to be refused');
    expect(edge.core.bus.stats()).toMatchObject({ retainedMessages: 3, retainedRefused: 2 });

    const late = await anon('late');
    const seen = new Map<string, string>();
    late.on('message', (t: string, payload: Buffer) => seen.set(t, payload.toString()));
    await late.subscribeAsync('r/#');
    // r/end is retained too but refused (three are held), so an unretained marker ends the wait.
    const done = new Promise<void>((resolve) => late.on('message', (t: string) => t === 'r-end' && resolve()));
    await late.subscribeAsync('r-end');
    await anon('marker').then((m) => m.publishAsync('r-end', 'x', { qos: 1 }));
    await within(done, 5000, 'the marker');
    expect(Object.fromEntries(seen)).toEqual({ 'r/1': 'new', 'r/3': 'v3', 'r/4': 'v4', 'r-end': 'x' });
  });
});

describe('log lines a client provokes', () => {
  let edge: SecureEdge;

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': thermostatManifest() },
      users: { dash: { role: 'app', password: 'd' } },
    });
  });

  afterAll(() => edge.stop());

  it('cuts a 30,000-character client id and user name to a prefix and a hash', async () => {
    const clientId = `c${'i'.repeat(30_000)}`;
    const username = `u${'n'.repeat(30_000)}`;
    expect(await refusedWith(connectAs(edge.url, username, 'pw', { clientId }))).toBe(4);
    const line = edge.logs.find((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ code: 'EDGETWIN_ERR_AUTH_FAILED' });
    expect(String(line!.clientId)).toMatch(/^ci{63}…#[0-9a-f]{8}\(30001 chars\)$/);
    expect(String(line!.username)).toMatch(/^un{63}…#[0-9a-f]{8}\(30001 chars\)$/);
    expect(JSON.stringify(line).length).toBeLessThan(2048);
  });

  it("budgets a client's denials: 500 denied filters of 1 KB each write a few short lines, and say how many were left out", async () => {
    const dash = await connectAs(edge.url, 'dash', 'd', { clientId: 'noisy' });
    try {
      const filters = Array.from({ length: 500 }, (_, i) => `denied/${i}/${'x'.repeat(1000)}`);
      // mqtt.js rejects a SUBACK that grants nothing, with the packet.
      const granted = await dash.subscribeAsync(filters).then(
        (grants) => grants.map((g) => g.qos),
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
      );
      expect(granted).toEqual(filters.map(() => 128));
      const lines = edge.logs.filter((l) => l.clientId === 'noisy');
      const bytes = lines.reduce((n, l) => n + JSON.stringify(l).length, 0);
      // Without the budget: 500 lines quoting 1 KB topics, over 1 MB.
      expect(lines.length).toBeLessThanOrEqual(25);
      expect(bytes).toBeLessThan(32 * 1024);
      expect(edge.core.bus.stats().logLinesSuppressed).toBeGreaterThanOrEqual(475);
      expect(edge.core.bus.stats().denied).toBeGreaterThanOrEqual(500);
    } finally {
      await dash.endAsync(true);
    }
  });
});
