// Authentication and authorization against a real EdgeCore and real mqtt.js clients: the users
// file, anonymous access by rule, each role's publish / subscribe / twin-change rights, and the
// CLI with credentials. Denials are refused per MQTT, counted and logged with the client id.

import { networkInterfaces } from 'node:os';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT, runCli } from './process.js';
import { closed, connectAs, deviceManifest, refusedWith, request, startSecureEdge, within, type SecureEdge } from './security-rig.js';

const D = '$hw/events/device/default';
const twinOf = (answer: Record<string, unknown>): Record<string, { expected?: { value: string }; actual?: { value: string } }> =>
  answer.twin as Record<string, { expected?: { value: string }; actual?: { value: string } }>;

describe('users file and roles', () => {
  let edge: SecureEdge;
  const clients: MqttClient[] = [];
  const as = async (user: string, password: string, clientId = `${user}-${clients.length}`): Promise<MqttClient> => {
    const c = await connectAs(edge.url, user, password, { clientId });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const get = async (device: string): Promise<Record<string, unknown>> => {
    const root = await as('root', 'r');
    return request(root, `${D}/${device}/twin/get`, `${D}/${device}/twin/get/result`, {});
  };

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: {
        'thermo.yaml': deviceManifest('thermo', 'modbus'),
        'press.yaml': deviceManifest('press', 'modbus'),
        'env.yaml': deviceManifest('env', 'bluetooth'),
        'other.yaml': deviceManifest('other', 'external'),
      },
      users: {
        'm-modbus': { role: 'mapper', protocols: ['modbus'], password: 'm' },
        'm-listed': { role: 'mapper', devices: ['default/other'], password: 'l' },
        dash: { role: 'app', password: 'd' },
        ops: { role: 'writer', password: 'o' },
        'ops-press': { role: 'writer', devices: ['default/press'], password: 'p' },
        root: { role: 'admin', password: 'r' },
      },
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await edge.stop();
  });

  it('refuses bad credentials (CONNACK 4) and anonymous clients (5), and logs each with its code', async () => {
    expect(await refusedWith(connectAs(edge.url, 'root', 'wrong', { clientId: 'guess-1' }))).toBe(4);
    expect(await refusedWith(connectAs(edge.url, 'nobody', 'r', { clientId: 'guess-2' }))).toBe(4);
    expect(await refusedWith(connectAs(edge.url, undefined, undefined, { clientId: 'anon-1' }))).toBe(5);
    expect(edge.core.bus.stats().refused).toBeGreaterThanOrEqual(3);
    const refusals = edge.logs.filter((l) => l.msg === 'connection refused');
    expect(refusals.map((l) => [l.clientId, l.code])).toEqual(
      expect.arrayContaining([['guess-1', 'EDGETWIN_ERR_AUTH_FAILED'], ['guess-2', 'EDGETWIN_ERR_AUTH_FAILED'], ['anon-1', 'EDGETWIN_ERR_AUTH_FAILED']]),
    );
    expect(edge.core.security).toMatch(/^auth: 6 users from .*users\.yaml, anonymous off$/);
  });

  it('lets a mapper report for the devices of its protocol (or listed to it) and refuses the others', async () => {
    const modbus = await as('m-modbus', 'm', 'mapper-modbus');
    const ok = await request(modbus, `${D}/thermo/twin/update`, `${D}/thermo/twin/update/result`, { twin: { temperature: { actual: { value: '20.5' } } } });
    expect(twinOf(ok).temperature?.actual?.value).toBe('20.5');
    const listed = await as('m-listed', 'l');
    await request(listed, `${D}/other/twin/update`, `${D}/other/twin/update/result`, { twin: { temperature: { actual: { value: '7' } } } });

    const deniedBefore = edge.core.bus.stats().denied;
    const gone = closed(modbus);
    modbus.publish(`${D}/env/twin/update`, JSON.stringify({ twin: { temperature: { actual: { value: '99' } } } }), { qos: 1 });
    await within(gone, 5000, 'the denied mapper to be disconnected');
    expect(edge.core.bus.stats().denied).toBe(deniedBefore + 1);
    const log = edge.logs.find((l) => l.msg === 'publish denied' && l.clientId === 'mapper-modbus');
    expect(log).toMatchObject({ topic: `${D}/env/twin/update`, err: { code: 'EDGETWIN_ERR_ACCESS_DENIED' } });
    expect(twinOf(await get('env')).temperature).toBeUndefined(); // nothing of it was applied
  });

  it('refuses a desired value from a mapper and a reported one from a writer, applying nothing', async () => {
    const ops = await as('ops', 'o');
    const set = await request(ops, `${D}/thermo/twin/update`, `${D}/thermo/twin/update/result`, { twin: { setpoint: { expected: { value: '21' } } } });
    expect(twinOf(set).setpoint?.expected?.value).toBe('21');

    const mapper = await as('m-modbus', 'm');
    const refused = await request(mapper, `${D}/thermo/twin/update`, `${D}/thermo/twin/update/result`, {
      twin: { setpoint: { expected: { value: '30' } }, temperature: { actual: { value: '22' } } },
    });
    expect(refused).toMatchObject({ code: 403, error_code: 'EDGETWIN_ERR_ACCESS_DENIED' });
    // Echoing the current desired value back (some KubeEdge mappers send the whole twin) is fine.
    const echo = await request(mapper, `${D}/thermo/twin/update`, `${D}/thermo/twin/update/result`, {
      twin: { setpoint: { expected: { value: '21' }, actual: { value: '21' }, ack: { state: 'applied', value: '21' } } },
    });
    expect(twinOf(echo).setpoint?.actual?.value).toBe('21');

    const writerReport = await request(ops, `${D}/thermo/twin/update`, `${D}/thermo/twin/update/result`, { twin: { mode: { actual: { value: 'heat' } } } });
    expect(writerReport).toMatchObject({ code: 403, error_code: 'EDGETWIN_ERR_ACCESS_DENIED' });
    const twin = twinOf(await get('thermo'));
    expect(twin.setpoint?.expected?.value).toBe('21');
    expect(twin.temperature?.actual?.value).toBe('20.5'); // the refused update's 22 is not there
    expect(twin.mode).toBeUndefined();
  });

  it('grants each role its subscriptions and answers the rest with 128, keeping the client connected', async () => {
    const mapper = await as('m-modbus', 'm');
    const granted = async (c: MqttClient, filter: string): Promise<number | undefined> => {
      const result = await c.subscribeAsync(filter, { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted?.map((qos) => ({ qos })));
      return result?.[0]?.qos;
    };
    expect(await granted(mapper, `${D}/thermo/twin/update/delta`)).toBe(1);
    expect(await granted(mapper, `${D}/env/twin/update/delta`)).toBe(128);
    expect(await granted(mapper, '$hw/events/device/+/+/twin/update/delta')).toBe(128);
    expect(await granted(mapper, `${D}/thermo/twin/update`)).toBe(128);
    const app = await as('dash', 'd');
    expect(await granted(app, '$hw/events/device/+/+/twin/update/document')).toBe(1);
    expect(await granted(app, '$hw/#')).toBe(128);
    expect(mapper.connected && app.connected).toBe(true);
  });

  it('lets an app read but not write, and a scoped writer write its devices only', async () => {
    const app = await as('dash', 'd');
    const got = await request(app, `${D}/thermo/twin/get`, `${D}/thermo/twin/get/result`, {});
    expect(twinOf(got).setpoint?.expected?.value).toBe('21');
    const gone = closed(app);
    app.publish(`${D}/thermo/twin/update`, JSON.stringify({ twin: { setpoint: { expected: { value: '5' } } } }), { qos: 1 });
    await within(gone, 5000, 'the app to be disconnected');

    const scoped = await as('ops-press', 'p');
    await request(scoped, `${D}/press/twin/update`, `${D}/press/twin/update/result`, { twin: { setpoint: { expected: { value: '18' } } } });
    const out = closed(scoped);
    scoped.publish(`${D}/thermo/twin/update`, JSON.stringify({ twin: { setpoint: { expected: { value: '6' } } } }), { qos: 1 });
    await within(out, 5000, 'the scoped writer to be disconnected');
    expect(twinOf(await get('thermo')).setpoint?.expected?.value).toBe('21');
  });

  it.skipIf(!BUILT)('serves the CLI with credentials in the broker URL, and a user added while running', async () => {
    const port = new URL(edge.url).port;
    const got = await runCli(['twin', 'get', 'default/thermo', '--broker', `mqtt://dash:d@127.0.0.1:${port}`]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ twin: { setpoint: { expected: { value: '21' } } } });
    const anonymous = await runCli(['twin', 'get', 'default/thermo', '--broker', `mqtt://127.0.0.1:${port}`, '--timeout', '1500']);
    expect(anonymous.code).toBe(1);

    const added = await runCli(['user', 'add', 'late', '--role', 'app', '--file', edge.usersFile, '--password', 'l8']);
    expect(added.code).toBe(0);
    const late = await connectAs(edge.url, 'late', 'l8');
    await late.endAsync();
  });
});

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('with nothing configured', () => {
  const external = externalAddress();

  it.skipIf(external === undefined)('accepts anonymous clients from this machine only, even on 0.0.0.0', async () => {
    const edge = await startSecureEdge({ manifests: { 'thermo.yaml': deviceManifest('thermo', 'external') }, config: { mqtt: { host: '0.0.0.0' } } });
    try {
      expect(edge.core.security).toBe('auth: anonymous from loopback only (admin)');
      const port = new URL(edge.url).port;
      const local = await connectAs(`mqtt://127.0.0.1:${port}`);
      await local.endAsync();
      expect(await refusedWith(connectAs(`mqtt://${external!}:${port}`, 'who', 'ever'))).toBe(4);
      expect(await refusedWith(connectAs(`mqtt://${external!}:${port}`))).toBe(5);
      expect(edge.logs.some((l) => l.code === 'EDGETWIN_ERR_AUTH_FAILED' && String(l.reason).includes('from this machine only'))).toBe(true);
    } finally {
      await edge.stop();
    }
  });

  it('refuses settings under which no client could connect, before anything listens', async () => {
    await expect(startSecureEdge({ manifests: {}, config: { mqtt: { auth: { anonymous: 'off' } } } })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_AUTH_CONFIG' });
  });
});
