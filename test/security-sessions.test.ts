// Logins, sessions and the users file against a real EdgeCore over real sockets: a flood of bad
// passwords cannot hold up a good login, a client id and its queued messages belong to the user
// whose session it is, and removing or narrowing a user reaches its connected clients.

import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteUser, hashPassword, parseUsers, writeUser } from '../eventbus/index.js';
import { closeOf, eventually, within } from './async.js';
import { connectAs, deviceManifest, rawConnect, refusedWith, request, startSecureEdge, TEST_COST, type SecureEdge } from './security-rig.js';

const DEV = '$hw/events/device/default/thermo';

describe('logins, sessions and the users file', () => {
  let edge: SecureEdge;
  const clients: MqttClient[] = [];
  const raws: Socket[] = [];
  const as = async (user: string, password: string, clientId: string, clean = true): Promise<MqttClient> => {
    const c = await connectAs(edge.url, user, password, { clientId, clean });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': deviceManifest('thermo', 'external') },
      users: {
        root: { role: 'admin', password: 'r' },
        ops: { role: 'writer', password: 'o' },
        dash: { role: 'app', password: 'd' },
        temp: { role: 'app', password: 't' },
        later: { role: 'app', password: 'l' },
        audit: { role: 'admin', password: 'a' },
      },
    });
  });

  afterAll(async () => {
    for (const s of raws) s.destroy();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await edge.stop();
  });

  describe('password checks', () => {
    it('answers a good login while 30 parallel bad CONNECTs from one address are still held back, and takes the right password for the guessed name', async () => {
      const flood = Array.from({ length: 30 }, (_, i) =>
        rawConnect(edge.url, { clientId: `guess-${i}`, username: 'root', password: `wrong-${i}`, localAddress: '127.0.0.2' }),
      );
      raws.push(...flood.map((f) => f.socket));
      const answered: number[] = []; // CONNACK return codes, in the order they came
      flood.forEach((f) => void f.connack.then((code) => answered.push(code)));
      // The flood is under way: its first refusal is out.
      expect(await within(Promise.race(flood.map((f) => f.connack)), 10_000, 'the first refusal')).toBe(4);

      const good = await as('ops', 'o', 'ops-during-flood');
      expect(good.connected).toBe(true);
      // Before: checks ran first come, first served, and every refusal went out at once, so
      // the 30 were all answered before the login behind them. Now refusals back off.
      const stillHeld = 30 - answered.length;
      expect(stillHeld).toBeGreaterThan(0);

      // The name being guessed still logs in with its password, at once: it is checked, not blocked.
      const root = await as('root', 'r', 'root-during-flood');
      expect(root.connected).toBe(true);
      // The held-back ones are refusals too (the first few within seconds; the rest up to 10 s).
      await eventually(() => Promise.resolve(answered.length >= 3 || undefined), 15_000);
      expect(new Set(answered)).toEqual(new Set([4]));
      const refusals = edge.logs.filter((l) => l.msg === 'connection refused' && String(l.clientId).startsWith('guess-'));
      expect(refusals.length).toBeGreaterThan(0);
      expect(String(refusals.at(-1)?.reason)).toMatch(/in a row from this address or for this name; answered after \d+ ms/);
    });
  });

  describe('client ids belong to their session', () => {
    it("refuses another user's CONNECT with an admin's client id (CONNACK 2), which receives none of its queued messages", async () => {
      const admin = await as('root', 'r', 'ops-console', false);
      await admin.subscribeAsync('plant/alerts', { qos: 1 });
      await admin.endAsync();
      const publisher = await as('root', 'r', 'alerts-source');
      await publisher.publishAsync('plant/alerts', 'pressure high', { qos: 1 }); // queued for ops-console

      for (const clean of [false, true]) {
        const thief = rawConnect(edge.url, { clientId: 'ops-console', username: 'dash', password: 'd', clean });
        raws.push(thief.socket);
        expect(await within(thief.connack, 5000, 'the CONNACK')).toBe(2);
        await within(thief.closed, 5000, 'the refused connection to close');
        expect(thief.packets.map((p) => p.cmd)).toEqual(['connack']);
      }
      expect(edge.logs.some((l) => l.msg === 'connection refused' && l.code === 'EDGETWIN_ERR_CLIENT_ID_TAKEN' && l.clientId === 'ops-console')).toBe(true);

      // The owner comes back and gets what was queued for it.
      const back = rawConnect(edge.url, { clientId: 'ops-console', username: 'root', password: 'r', clean: false });
      raws.push(back.socket);
      expect(await within(back.connack, 5000, 'the CONNACK')).toBe(0);
      const queued = await eventually(() => Promise.resolve(back.packets.find((p) => p.cmd === 'publish')));
      expect(queued).toMatchObject({ topic: 'plant/alerts' });
      expect(String((queued as { payload: Buffer }).payload)).toBe('pressure high');
      back.socket.destroy();
    });

    it('lets a user take its own connection over, as MQTT says', async () => {
      const first = await as('ops', 'o', 'ops-panel');
      const gone = closeOf(first);
      const second = await as('ops', 'o', 'ops-panel');
      await within(gone, 5000, 'the first connection to be taken over');
      expect(second.connected).toBe(true);
      // A clean session ends with its connection: the id is free again once it closes.
      await second.endAsync();
      const other = await as('dash', 'd', 'ops-panel');
      expect(other.connected).toBe(true);
    });
  });

  describe('changes to the users file reach connected clients', () => {
    it('disconnects a writer downgraded to app within a second; reconnected, it can no longer set desired values', async () => {
      const ops = await as('ops', 'o', 'ops-writer');
      const set = await request(ops, `${DEV}/twin/update`, `${DEV}/twin/update/result`, { twin: { setpoint: { expected: { value: '21' } } } });
      expect(set).toMatchObject({ twin: { setpoint: { expected: { value: '21' } } } });

      const gone = closeOf(ops);
      writeUser(edge.usersFile, 'ops', { role: 'app', password: await hashPassword('o', TEST_COST) });
      await within(gone, 5000, 'the downgraded writer to be disconnected');
      expect(edge.logs.some((l) => l.msg === 'client disconnected' && l.clientId === 'ops-writer' && l.code === 'EDGETWIN_ERR_ACCESS_DENIED')).toBe(true);

      const again = await as('ops', 'o', 'ops-writer-2');
      const refused = closeOf(again);
      again.publish(`${DEV}/twin/update`, JSON.stringify({ twin: { setpoint: { expected: { value: '30' } } } }), { qos: 1 });
      await within(refused, 5000, 'the app-only publish to be refused');
      expect(edge.core.twin.get('default/thermo')?.twins.setpoint?.expected?.value).toBe('21');
    });

    it('disconnects the clients of a removed user, and refuses its next CONNECT', async () => {
      const temp = await as('temp', 't', 'temp-app');
      const gone = closeOf(temp);
      deleteUser(edge.usersFile, 'temp');
      await within(gone, 5000, 'the removed user to be disconnected');
      expect(await refusedWith(connectAs(edge.url, 'temp', 't', { clientId: 'temp-app-2' }))).toBe(4);
    });

    it("does not deliver to a downgraded admin what its persistent session's subscriptions queued while it was away", async () => {
      const audit = await as('audit', 'a', 'audit-console', false);
      await audit.subscribeAsync(`${DEV}/twin/update`, { qos: 1 }); // requests: readable by admins only
      await audit.endAsync();
      const reloads = edge.logs.filter((l) => l.msg === 'users file reloaded').length;
      writeUser(edge.usersFile, 'audit', { role: 'app', password: await hashPassword('a', TEST_COST) });
      await eventually(() => Promise.resolve(edge.logs.filter((l) => l.msg === 'users file reloaded').length > reloads || undefined));
      const root = await as('root', 'r', 'audit-source');
      await root.publishAsync(`${DEV}/twin/update`, JSON.stringify({ event_id: 'queued-for-audit', twin: {} }), { qos: 1 });

      const back = mqtt.connect(edge.url, { clientId: 'audit-console', clean: false, username: 'audit', password: 'a', reconnectPeriod: 0 });
      clients.push(back);
      const heard: string[] = [];
      back.on('message', (t) => heard.push(t));
      await within(new Promise((resolve) => back.once('connect', resolve)), 5000, 'the reconnect');
      // Anything queued is written right after the CONNACK, so it would arrive before this answer.
      await request(back, `${DEV}/twin/get`, `${DEV}/twin/get/result`, {});
      expect(heard.filter((t) => t === `${DEV}/twin/update`)).toEqual([]);
    });

    it("keeps a widened user's clients connected, and authorizes each publish against the current file", async () => {
      const later = await as('later', 'l', 'later-app');
      const reloads = edge.logs.filter((l) => l.msg === 'users file reloaded').length;
      // A hand edit of the role alone (the same hash): `edgetwin user add` would set a new hash,
      // and a new password ends the user's sessions like any narrowing.
      const hash = parseUsers(readFileSync(edge.usersFile, 'utf8'), edge.usersFile).get('later')?.password;
      writeUser(edge.usersFile, 'later', { role: 'writer', ...(hash ? { password: hash } : {}) });
      await eventually(() => Promise.resolve(edge.logs.filter((l) => l.msg === 'users file reloaded').length > reloads || undefined));
      const set = await request(later, `${DEV}/twin/update`, `${DEV}/twin/update/result`, { twin: { setpoint: { expected: { value: '22' } } } });
      expect(set).toMatchObject({ twin: { setpoint: { expected: { value: '22' } } } });
      expect(later.connected).toBe(true);
    });
  });
});
