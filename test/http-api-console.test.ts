// The HTTP API the web console uses (docs/http-api.md): session login with the broker's users
// file, the device list and page, desired values through the twin's own validation, the node,
// and the WebSocket — each with bad input and without credentials.

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call -- the answers are JSON read loosely; the assertions check their shape */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkInterfaces } from 'node:os';
import WebSocket from 'ws';
import { startSecureEdge, deviceManifest, type SecureEdge } from './security-rig.js';

const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

interface Answer {
  status: number;
  body: Record<string, any>;
  text: string;
  headers: Headers;
}

describe('the console HTTP API', () => {
  let edge: SecureEdge;
  let base: string;
  const sessions: Record<string, { cookie: string; csrf: string }> = {};

  async function call(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown; raw?: string; as?: string; csrf?: boolean } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.as) {
      headers.cookie = sessions[opts.as]!.cookie;
      if (opts.csrf !== false) headers['x-edgetwin-csrf'] = sessions[opts.as]!.csrf;
    }
    const res = await fetch(`${base}${path}`, { method, headers, ...(opts.raw !== undefined ? { body: opts.raw } : opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    const text = await res.text();
    let body: Record<string, any> = {};
    try {
      body = JSON.parse(text) as Record<string, any>;
    } catch {
      // not JSON (the console's page)
    }
    return { status: res.status, body, text, headers: res.headers };
  }

  async function login(user: string, password: string): Promise<Answer> {
    const res = await call('POST', '/api/v1/session', { body: { username: user, password } });
    if (res.status === 200) sessions[user] = { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: res.body.csrf as string };
    return res;
  }

  beforeAll(async () => {
    edge = await startSecureEdge({
      manifests: { 'thermo.yaml': deviceManifest('thermo', 'modbus'), 'press.yaml': deviceManifest('press', 'modbus', 'plant') },
      users: {
        viewer: { role: 'app', password: 'viewer-pw' },
        op: { role: 'writer', password: 'op-pw' },
        narrow: { role: 'writer', password: 'narrow-pw', devices: ['plant/press'] },
        mb: { role: 'mapper', password: 'mb-pw', protocols: ['modbus'] },
      },
      config: { http: { enabled: true, port: 0, console: true } },
    });
    base = edge.core.httpUrl!;
    await edge.core.twin.update('default/thermo', { temperature: { actual: '21.5' } }, { origin: 'edge' });
  });
  afterAll(async () => edge?.stop());

  it('refuses every console endpoint without credentials (401, coded), and the WebSocket too', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/devices'],
      ['GET', '/api/v1/devices/default/thermo'],
      ['GET', '/api/v1/node'],
    ] as const) {
      const res = await call(method, path);
      expect(res.status, path).toBe(401);
      expect(res.body.error.code).toBe('EDGETWIN_ERR_AUTH_FAILED');
    }
    const put = await call('PUT', '/api/v1/devices/default/thermo/desired', { body: { values: { setpoint: 22 } } });
    expect(put.status).toBe(401);
    expect(edge.core.twin.get('default/thermo')!.twins.setpoint?.expected).toBeUndefined();
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/v1/ws`);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });

  it('GET /api/v1/session says who is logged in, and whether anonymous is offered (not here: a users file)', async () => {
    const res = await call('GET', '/api/v1/session');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ authenticated: false, anonymous: false });
  });

  it('logs in with the users file: a session cookie HttpOnly and SameSite=Strict, a CSRF token, no password hash', async () => {
    const res = await login('op', 'op-pw');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ authenticated: true, user: 'op', role: 'writer', canWrite: true });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^edgetwin_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(res.text).not.toContain('$scrypt');
    const again = await call('GET', '/api/v1/session', { as: 'op' });
    expect(again.body).toMatchObject({ authenticated: true, user: 'op', role: 'writer', csrf: res.body.csrf });
    expect((await login('viewer', 'viewer-pw')).body).toMatchObject({ role: 'app', canWrite: false });
    expect((await login('narrow', 'narrow-pw')).status).toBe(200);
  });

  it('refuses a wrong password (401), a mapper account (403), anonymous with a users file, and malformed logins (400)', async () => {
    const wrong = await login('op', 'nope');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('EDGETWIN_ERR_AUTH_FAILED');
    const mapper = await login('mb', 'mb-pw');
    expect(mapper.status).toBe(403);
    expect(mapper.body.error.code).toBe('EDGETWIN_ERR_ACCESS_DENIED');
    const anonymous = await call('POST', '/api/v1/session', { body: {} });
    expect(anonymous.status).toBe(401);
    for (const bad of [{ raw: 'not json' }, { body: [] }, { body: { username: 1, password: 'x' } }, { body: { username: 'op', password: 'op-pw', admin: true } }]) {
      const res = await call('POST', '/api/v1/session', { ...bad, headers: { 'content-type': 'application/json' } });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('EDGETWIN_ERR_HTTP_BODY');
    }
    const form = await call('POST', '/api/v1/session', { raw: 'username=op&password=op-pw', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(400);
    expect(form.body.error.code).toBe('EDGETWIN_ERR_HTTP_BODY');
    const forged = await call('GET', '/api/v1/devices', { headers: { cookie: `edgetwin_session=${sessions.op!.cookie.split('=')[1]!.replace(/.$/, 'x')}` } });
    expect(forged.status).toBe(401);
  });

  it('lists the devices with state, last seen, deltas and acks; a writer limited to its devices sees only those', async () => {
    const res = await call('GET', '/api/v1/devices', { as: 'op' });
    expect(res.status).toBe(200);
    expect(res.body.devices.map((d: { id: string }) => d.id)).toEqual(['default/thermo', 'plant/press']);
    expect(res.body.devices[0]).toMatchObject({ id: 'default/thermo', protocol: 'modbus', model: 'thermostat', state: 'unknown', openDeltas: 0, failedAcks: 0 });
    expect(typeof res.body.devices[0].lastSeen).toBe('number');
    const narrow = await call('GET', '/api/v1/devices', { as: 'narrow' });
    expect(narrow.body.devices.map((d: { id: string }) => d.id)).toEqual(['plant/press']);
    const viaBasic = await call('GET', '/api/v1/devices', { headers: basic('viewer', 'viewer-pw') });
    expect(viaBasic.status).toBe(200);
    expect(viaBasic.body.devices).toHaveLength(2);
  });

  it('gives one device: its model schema, twin and whether the caller may write; 403 before 404', async () => {
    const res = await call('GET', '/api/v1/devices/default/thermo', { as: 'op' });
    expect(res.status).toBe(200);
    expect(res.body.model.schema.properties.setpoint).toMatchObject({ minimum: 5, maximum: 35, unit: 'Celsius' });
    expect(res.body.twin.twins.temperature.actual.value).toBe('21.5');
    expect(res.body.canWrite).toBe(true);
    expect((await call('GET', '/api/v1/devices/default/thermo', { as: 'viewer' })).body.canWrite).toBe(false);
    const outside = await call('GET', '/api/v1/devices/default/thermo', { as: 'narrow' });
    expect(outside.status).toBe(403);
    const missing = await call('GET', '/api/v1/devices/default/nothing', { as: 'op' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('EDGETWIN_ERR_DEVICE_NOT_FOUND');
  });

  it('sets a desired value through the twin: pending ack, the event recorded', async () => {
    const res = await call('PUT', '/api/v1/devices/default/thermo/desired', { as: 'op', body: { values: { setpoint: 22.5, mode: 'cool', power: false } } });
    expect(res.status).toBe(200);
    const twin = edge.core.twin.get('default/thermo')!;
    expect(twin.twins.setpoint).toMatchObject({ expected: { value: '22.5' }, ack: { state: 'pending' } });
    expect(twin.twins.mode?.expected?.value).toBe('cool');
    expect(twin.twins.power?.expected?.value).toBe('false');
    const page = await call('GET', '/api/v1/devices/default/thermo', { as: 'op' });
    expect(page.body.events).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'delta', property: 'setpoint' })]));
    expect(page.body.device.openDeltas).toBe(3);
  });

  it('refuses changes with the twin’s codes and changes nothing: out of range, read-only, unknown property, version conflict', async () => {
    const before = edge.core.twin.get('default/thermo')!;
    const cases: Array<[unknown, number, string]> = [
      [{ values: { setpoint: 99 } }, 400, 'EDGETWIN_ERR_MODEL_VALIDATION'],
      [{ values: { mode: 'turbo' } }, 400, 'EDGETWIN_ERR_MODEL_VALIDATION'],
      [{ values: { temperature: 20 } }, 400, 'EDGETWIN_ERR_PROPERTY_READ_ONLY'],
      [{ values: { setpoint: 20, nosuch: 1 } }, 400, 'EDGETWIN_ERR_PROPERTY_UNKNOWN'],
      [{ values: { setpoint: 20 }, version: 1 }, 409, 'EDGETWIN_ERR_TWIN_VERSION_CONFLICT'],
      [{ values: {} }, 400, 'EDGETWIN_ERR_HTTP_BODY'],
      [{ values: { setpoint: [1] } }, 400, 'EDGETWIN_ERR_HTTP_BODY'],
      [{ setpoint: 20 }, 400, 'EDGETWIN_ERR_HTTP_BODY'],
    ];
    for (const [body, status, code] of cases) {
      const res = await call('PUT', '/api/v1/devices/default/thermo/desired', { as: 'op', body });
      expect(res.body.error?.code, JSON.stringify(body)).toBe(code);
      expect(res.status, JSON.stringify(body)).toBe(status);
    }
    expect(edge.core.twin.get('default/thermo')).toBe(before);
  });

  it('checks role and CSRF on every change: no token, a foreign origin, an app user, a device outside the list', async () => {
    const before = edge.core.twin.get('default/thermo')!;
    const noToken = await call('PUT', '/api/v1/devices/default/thermo/desired', { as: 'op', csrf: false, body: { values: { setpoint: 10 } } });
    expect(noToken.status).toBe(403);
    expect(noToken.body.error.code).toBe('EDGETWIN_ERR_HTTP_CSRF');
    const wrongToken = await call('PUT', '/api/v1/devices/default/thermo/desired', { as: 'op', csrf: false, headers: { 'x-edgetwin-csrf': sessions.viewer!.csrf }, body: { values: { setpoint: 10 } } });
    expect(wrongToken.body.error.code).toBe('EDGETWIN_ERR_HTTP_CSRF');
    const foreign = await call('PUT', '/api/v1/devices/default/thermo/desired', { as: 'op', headers: { origin: 'http://evil.example' }, body: { values: { setpoint: 10 } } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('EDGETWIN_ERR_HTTP_CSRF');
    const app = await call('PUT', '/api/v1/devices/default/thermo/desired', { as: 'viewer', body: { values: { setpoint: 10 } } });
    expect(app.status).toBe(403);
    expect(app.body.error.code).toBe('EDGETWIN_ERR_ACCESS_DENIED');
    const appBasic = await call('PUT', '/api/v1/devices/default/thermo/desired', { headers: basic('viewer', 'viewer-pw'), body: { values: { setpoint: 10 } } });
    expect(appBasic.status).toBe(403);
    const outside = await call('PUT', '/api/v1/devices/default/thermo/desired', { as: 'narrow', body: { values: { setpoint: 10 } } });
    expect(outside.status).toBe(403);
    const textBody = await call('PUT', '/api/v1/devices/default/thermo/desired', { as: 'op', raw: '{"values":{"setpoint":10}}', headers: { 'content-type': 'text/plain' } });
    expect(textBody.body.error.code).toBe('EDGETWIN_ERR_HTTP_BODY');
    expect(edge.core.twin.get('default/thermo')).toBe(before);
    // A writer through HTTP Basic needs no CSRF token (no cookie rides along), only its role.
    const basicWriter = await call('PUT', '/api/v1/devices/plant/press/desired', { headers: basic('narrow', 'narrow-pw'), body: { values: { setpoint: 12 } } });
    expect(basicWriter.status).toBe(200);
  });

  it('GET /api/v1/node: version, broker, store, cloud sync, sinks, DMI, links', async () => {
    const res = await call('GET', '/api/v1/node', { as: 'viewer' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ nodeName: 'edge-test', cloudSync: { state: 'off' }, sinks: [], dmi: null, links: { metrics: '/metrics', healthz: '/healthz', readyz: '/readyz' } });
    expect(typeof res.body.version).toBe('string');
    expect(res.body.broker).toMatchObject({ clients: expect.any(Number) });
    expect(res.text).not.toContain('$scrypt');
    expect(res.text).not.toContain('password');
  });

  it('the WebSocket pushes changes of visible devices only; a foreign origin is refused', async () => {
    const url = `${base.replace('http', 'ws')}/api/v1/ws`;
    const foreign = new WebSocket(url, { headers: { cookie: sessions.op!.cookie, origin: 'http://evil.example' } });
    expect(await new Promise<number>((resolve) => foreign.on('unexpected-response', (_q, r) => resolve(r.statusCode ?? 0)))).toBe(403);
    const open = (user: string): Promise<{ ws: WebSocket; messages: Array<Record<string, any>> }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { headers: { cookie: sessions[user]!.cookie } });
        const messages: Array<Record<string, any>> = [];
        ws.on('message', (d) => messages.push(JSON.parse((d as Buffer).toString('utf8')) as Record<string, any>));
        ws.on('open', () => resolve({ ws, messages }));
        ws.on('error', reject);
      });
    const op = await open('op');
    const narrow = await open('narrow');
    const { eventually } = await import('./async.js');
    await eventually(async () => (op.messages.some((m) => m.type === 'hello') ? true : undefined));
    await edge.core.twin.update('default/thermo', { temperature: { actual: '23.25' } }, { origin: 'edge' });
    await edge.core.twin.update('plant/press', { temperature: { actual: '40' } }, { origin: 'edge' });
    const change = await eventually(async () => op.messages.find((m) => m.type === 'change' && m.device.id === 'default/thermo'));
    expect(change.twin.twins.temperature.actual.value).toBe('23.25');
    expect(change.events).toEqual([expect.objectContaining({ kind: 'reported', property: 'temperature' })]);
    await eventually(async () => narrow.messages.find((m) => m.type === 'change' && m.device.id === 'plant/press'));
    expect(narrow.messages.some((m) => m.type === 'change' && m.device.id === 'default/thermo')).toBe(false);
    op.ws.close();
    narrow.ws.close();
  });

  it('logging out ends the session: the cookie no longer works', async () => {
    const { cookie } = sessions.viewer!;
    const out = await call('DELETE', '/api/v1/session', { as: 'viewer' });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    const after = await call('GET', '/api/v1/devices', { headers: { cookie } });
    expect(after.status).toBe(401);
  });

  it('serves the console page with its security headers when built; unknown API paths stay JSON 404s', async () => {
    const api = await call('GET', '/api/v1/nothing');
    expect(api.status).toBe(404);
    expect(api.body.error.code).toBe('EDGETWIN_ERR_HTTP_NOT_FOUND');
    const page = await call('GET', '/devices/default/thermo');
    if (page.status === 404) return; // the console is not built (npm run build); the browser test covers it
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    const traversal = await call('GET', '/assets/..%2f..%2fpackage.json');
    expect(traversal.status).toBe(404);
  });
});

describe('the console login without a users file (the demo)', () => {
  let edge: SecureEdge;
  beforeAll(async () => {
    edge = await startSecureEdge({ manifests: { 'thermo.yaml': deviceManifest('thermo', 'modbus') }, config: { http: { enabled: true, port: 0 }, mqtt: { auth: { anonymous: 'loopback', anonymousRole: 'writer' } } } });
  });
  afterAll(async () => edge?.stop());

  it('offers anonymous from this machine, as the broker’s anonymousRole; a user name cannot be checked', async () => {
    const base = edge.core.httpUrl!;
    const offered = (await (await fetch(`${base}/api/v1/session`)).json()) as Record<string, unknown>;
    expect(offered).toEqual({ authenticated: false, anonymous: true });
    const post = (body: unknown): Promise<Response> => fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const res = await post({});
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ authenticated: true, user: null, role: 'writer', canWrite: true });
    const named = await post({ username: 'someone', password: 'x' });
    expect(named.status).toBe(401);
    expect(((await named.json()) as { error: { code: string } }).error.code).toBe('EDGETWIN_ERR_AUTH_FAILED');
  });

  it('refuses anonymous logins from another machine', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
    if (external === undefined) return; // no non-loopback address to come from
    const open = await startSecureEdge({ manifests: { 'thermo.yaml': deviceManifest('thermo', 'modbus') }, config: { http: { enabled: true, port: 0, host: '0.0.0.0' }, mqtt: { auth: { anonymous: 'any' } } } });
    try {
      const port = new URL(open.core.httpUrl!).port;
      const res = await fetch(`http://${external}:${port}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('EDGETWIN_ERR_AUTH_FAILED');
      const offered = (await (await fetch(`http://${external}:${port}/api/v1/session`)).json()) as Record<string, unknown>;
      expect(offered.anonymous).toBe(false);
    } finally {
      await open.stop();
    }
  });
});
