// Who may read history over HTTP and over MQTT (docs/security.md): users of the broker's users
// file by HTTP Basic, with their roles and device lists; anonymous only from this machine and
// only when the broker takes anonymous clients; health endpoints for anyone.

import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinClient } from '../devicetwin/index.js';
import { MqttBus } from '../eventbus/index.js';
import { closed, connectAs, deviceManifest, startSecureEdge, within, type SecureEdge } from './security-rig.js';

const HTTP_ON = { http: { enabled: true, port: 0 } } as const;
const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

async function history(edge: SecureEdge, device: string, headers: Record<string, string> = {}, base = edge.core.httpUrl!): Promise<{ status: number; body: Record<string, unknown>; auth: string | null }> {
  const res = await fetch(`${base}/api/v1/devices/${device}/history?since=1h`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, auth: res.headers.get('www-authenticate') };
}

function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('HTTP API with a users file', () => {
  let edge: SecureEdge;

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': deviceManifest('thermo', 'modbus'), 'press.yaml': deviceManifest('press', 'modbus', 'plant') },
      users: {
        dash: { role: 'app', password: 'dash-pw' },
        op: { role: 'writer', password: 'op-pw', devices: ['plant/press'] },
        mb: { role: 'mapper', password: 'mb-pw', protocols: ['modbus'] },
        root: { role: 'admin', password: 'root-pw' },
      },
      config: HTTP_ON,
    });
    await edge.core.twin.update('default/thermo', { temperature: { actual: '21.5' } }, { origin: 'edge' });
  });
  afterAll(async () => edge?.stop());

  it('an app user reads history with HTTP Basic', async () => {
    const res = await history(edge, 'default/thermo', basic('dash', 'dash-pw'));
    expect(res.status).toBe(200);
    expect(res.body.series).toEqual([expect.objectContaining({ property: 'temperature', kind: 'reported', value: [21.5] })]);
    expect((await history(edge, 'default/thermo', basic('root', 'root-pw'))).status).toBe(200);
  });

  it('no credentials, bad ones or a malformed header: 401 with a Basic challenge (anonymous is off with a users file)', async () => {
    for (const headers of [{}, basic('dash', 'wrong'), basic('nobody', 'x'), { authorization: 'Bearer abc' }, { authorization: 'Basic !!!' }]) {
      const res = await history(edge, 'default/thermo', headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'EDGETWIN_ERR_AUTH_FAILED', status: 401 } });
      expect(res.auth).toBe('Basic realm="edgetwin", charset="UTF-8"');
    }
  });

  it('a mapper is refused, and a writer outside its devices: 403 — before the device is even looked up', async () => {
    expect(await history(edge, 'default/thermo', basic('mb', 'mb-pw'))).toMatchObject({ status: 403, body: { error: { code: 'EDGETWIN_ERR_ACCESS_DENIED' } } });
    expect(await history(edge, 'default/thermo', basic('op', 'op-pw'))).toMatchObject({ status: 403, body: { error: { code: 'EDGETWIN_ERR_ACCESS_DENIED' } } });
    expect((await history(edge, 'plant/press', basic('op', 'op-pw'))).status).toBe(200);
    // Unauthenticated, an unknown device is a 401 like any other: nothing is revealed.
    expect((await history(edge, 'default/ghost')).status).toBe(401);
  });

  it('/healthz, /readyz and /metrics ask nobody', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${edge.core.httpUrl!}${path}`)).status, path).toBe(200);
  });

  it('over MQTT the same roles apply: an app asks and gets the answer; a mapper is cut off', async () => {
    const port = new URL(edge.url).port;
    const bus = new MqttBus({ url: `mqtt://dash:dash-pw@127.0.0.1:${port}` });
    await bus.start();
    try {
      const result = await new TwinClient(bus).history('default/thermo', { properties: ['temperature'] });
      expect(result.series).toEqual([expect.objectContaining({ value: [21.5] })]);
    } finally {
      await bus.close();
    }
    const mapper = await connectAs(edge.url, 'mb', 'mb-pw');
    const granted = await mapper
      .subscribeAsync('$edgetwin/device/default/thermo/history/get/result', { qos: 1 })
      .then((g) => g[0]?.qos, (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0]);
    expect(granted).toBe(128);
    const gone = closed(mapper);
    mapper.publish('$edgetwin/device/default/thermo/history/get', '{}', { qos: 1 });
    await within(gone, 5000, 'the mapper to be disconnected');
    await mapper.endAsync(true);
  });
});

describe('HTTP API without a users file', () => {
  const external = externalAddress();
  let edge: SecureEdge;

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': deviceManifest('thermo', 'external'), 'quiet.yaml': deviceManifest('quiet', 'external') },
      config: { http: { enabled: true, port: 0, host: '0.0.0.0' }, history: { devices: { 'default/quiet': { enabled: false } } } },
    });
  });
  afterAll(async () => edge?.stop());

  it('anonymous requests from this machine are the anonymous role (admin by default)', async () => {
    const port = new URL(edge.core.httpUrl!).port;
    expect((await history(edge, 'default/thermo', {}, `http://127.0.0.1:${port}`)).status).toBe(200);
    // Credentials cannot be checked without a users file: from loopback they change nothing.
    expect((await history(edge, 'default/thermo', basic('who', 'ever'), `http://127.0.0.1:${port}`)).status).toBe(200);
  });

  it.skipIf(external === undefined)('anonymous requests from another address are refused, even with anonymous MQTT allowed', async () => {
    const port = new URL(edge.core.httpUrl!).port;
    const res = await history(edge, 'default/thermo', {}, `http://${external!}:${port}`);
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'EDGETWIN_ERR_AUTH_FAILED', message: expect.stringContaining('from this machine only') } } });
    expect((await history(edge, 'default/thermo', basic('who', 'ever'), `http://${external!}:${port}`)).status).toBe(401);
  });

  it('a device whose history is off answers EDGETWIN_ERR_HISTORY_DISABLED (404)', async () => {
    const port = new URL(edge.core.httpUrl!).port;
    expect(await history(edge, 'default/quiet', {}, `http://127.0.0.1:${port}`)).toMatchObject({ status: 404, body: { error: { code: 'EDGETWIN_ERR_HISTORY_DISABLED' } } });
  });
});
