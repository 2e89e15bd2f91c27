// Password hashing, the users file, and BrokerAuth's decisions at CONNECT and on twin changes,
// without sockets (test/security.test.ts runs the same rules against a real broker).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerAuth, type BrokerAuthOptions } from './auth.js';
import { isLoopback } from './identity.js';
import { hashPassword, parsePasswordHash, verifyPassword, type ScryptCost } from './password.js';
import { deleteUser, listUsers, parseUsers, UsersFile, writeUser } from './users.js';

// Tests hash with a cheap cost; the cost travels in the hash, so verification follows it.
const CHEAP: ScryptCost = { ln: 4, r: 8, p: 1 };
const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });

describe('passwords', () => {
  it('hashes to a PHC scrypt string that verifies only the same password', async () => {
    const hash = await hashPassword('correct horse', CHEAP);
    expect(hash).toMatch(/^\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horse ', hash)).toBe(false);
    expect(await hashPassword('correct horse', CHEAP)).not.toBe(hash); // fresh salt
  });

  it('treats a malformed hash or an unknown user as a mismatch (after a full-cost check)', async () => {
    expect(parsePasswordHash('$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(await verifyPassword('x', 'plaintext')).toBe(false);
    expect(await verifyPassword('x', undefined)).toBe(false);
  });

  it('knows loopback addresses, IPv4-mapped ones included', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', 'fe80::1', undefined]) expect(isLoopback(a)).toBe(false);
  });
});

describe('users file', () => {
  it('adds, replaces and removes users, keeping comments, owner-only', async () => {
    const file = path.join(dir, 'users.yaml');
    writeFileSync(file, '# our users\nusers:\n  ops: { role: admin }\n');
    writeUser(file, 'modbus', { role: 'mapper', protocols: ['modbus'], password: await hashPassword('pw', CHEAP) });
    writeUser(file, 'dash', { role: 'app', password: await hashPassword('pw', CHEAP) });
    writeUser(file, 'dash', { role: 'writer', devices: ['default/thermo'] });
    expect(readFileSync(file, 'utf8')).toMatch(/^# our users/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(listUsers(file)).toEqual([
      { name: 'ops', role: 'admin', password: false, protocols: [], devices: [] },
      { name: 'modbus', role: 'mapper', password: true, protocols: ['modbus'], devices: [] },
      { name: 'dash', role: 'writer', password: false, protocols: [], devices: ['default/thermo'] },
    ]);
    expect(deleteUser(file, 'ops')).toBe(true);
    expect(deleteUser(file, 'ops')).toBe(false);
    expect(listUsers(file).map((u) => u.name)).toEqual(['modbus', 'dash']);
  });

  it('creates a missing file', () => {
    const file = path.join(dir, 'new-users.yaml');
    writeUser(file, 'solo', { role: 'admin' });
    expect(listUsers(file).map((u) => u.name)).toEqual(['solo']);
  });

  it.each([
    ['users: [a, b]', /must map names/],
    ['users:\n  x: { role: root }', /role must be one of/],
    ['users:\n  x: { role: app, password: hunter2 }', /scrypt hash/],
    ['users:\n  x: { role: mapper }', /needs protocols or devices/],
    ['users:\n  x: { role: app, protocols: [modbus] }', /only a mapper/],
    ['users:\n  x: { role: app, devices: [thermo] }', /not <namespace>\/<name>/],
    ['users:\n  x: { role: app, pasword: x }', /unknown key "pasword"/],
    ['users:\n  "bad name": { role: app }', /names are/],
    ['users: {x: [', /not valid YAML/],
  ])('refuses %j with a coded error', (text, message) => {
    expect(() => parseUsers(text, 'u.yaml')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_USERS_FILE', message: expect.stringMatching(message) }));
  });

  it('keeps the previous users when the file turns invalid while running', async () => {
    const file = path.join(dir, 'live.yaml');
    writeFileSync(file, 'users:\n  a: { role: app }\n');
    const users = new UsersFile(file, silent);
    users.load();
    writeFileSync(file, 'users:\n  a: { role: app }\n  b: { role: writer }\n');
    await users.refresh();
    expect(users.size).toBe(2);
    writeFileSync(file, 'users: {b: [\n');
    await users.refresh();
    expect(users.principal('b')?.role).toBe('writer');
  });
});

describe('BrokerAuth', () => {
  const registry = { protocolOf: () => undefined };
  const make = (o: Partial<BrokerAuthOptions> = {}): BrokerAuth => {
    const auth = new BrokerAuth({ nodeName: 'edge-1', registry, logger: silent, ...o });
    auth.start();
    return auth;
  };

  it('by default takes anonymous clients from loopback only, as admin', async () => {
    const auth = make();
    expect(auth.describe()).toBe('auth: anonymous from loopback only (admin)');
    await expect(auth.authenticate({ clientId: 'c', remoteAddress: '127.0.0.1' })).resolves.toBeUndefined();
    await expect(auth.authenticate({ clientId: 'c', remoteAddress: '::ffff:127.0.0.1', username: 'who' })).resolves.toBeUndefined();
    await expect(auth.authenticate({ clientId: 'c', remoteAddress: '192.168.1.5' })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_AUTH_FAILED' });
  });

  it('with a users file: passwords, certificates, and anonymous off unless asked', async () => {
    const file = path.join(dir, 'broker-users.yaml');
    writeUser(file, 'm1', { role: 'mapper', protocols: ['modbus'], password: await hashPassword('s3cret', CHEAP) });
    writeUser(file, 'line-3', { role: 'mapper', devices: ['plant/press'] });
    const auth = make({ usersFile: file, clientCertificates: 'optional' });
    expect(auth.describe()).toBe(`auth: 2 users from ${file}, anonymous off`);
    const ok = { clientId: 'c', remoteAddress: '10.0.0.9', username: 'm1', password: Buffer.from('s3cret') };
    await expect(auth.authenticate(ok)).resolves.toBe('m1');
    await expect(auth.authenticate({ ...ok, password: Buffer.from('nope') })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_AUTH_FAILED' });
    await expect(auth.authenticate({ ...ok, username: 'ghost' })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_AUTH_FAILED' });
    await expect(auth.authenticate({ clientId: 'c', remoteAddress: '127.0.0.1' })).rejects.toThrow(/anonymous access is off/);
    // Each identity connects with a client id of its own (a client id belongs to its first user).
    await expect(auth.authenticate({ clientId: 'c3', certificateName: 'line-3' })).resolves.toBe('line-3');
    await expect(auth.authenticate({ clientId: 'c4', certificateName: 'line-4' })).rejects.toThrow(/names no user/);
    await expect(auth.authenticate({ clientId: 'c5', certificateName: 'line-3', username: 'm1' })).rejects.toThrow(/does not match/);
    await expect(auth.authenticate({ clientId: 'c6', certificateError: 'CERT_HAS_EXPIRED' })).rejects.toThrow(/did not verify/);
    // A user added while running can connect at once.
    writeUser(file, 'late', { role: 'app', password: await hashPassword('pw', CHEAP) });
    await expect(auth.authenticate({ clientId: 'c7', username: 'late', password: Buffer.from('pw') })).resolves.toBe('late');
    auth.stop();
  });

  it("refuses another user's CONNECT with a client id whose session lives, and frees a clean one when it closes", async () => {
    const file = path.join(dir, 'owners.yaml');
    writeUser(file, 'root', { role: 'admin', password: await hashPassword('r', CHEAP) });
    writeUser(file, 'dash', { role: 'app', password: await hashPassword('d', CHEAP) });
    const auth = make({ usersFile: file });
    const as = (username: string, password: string, clientId: string, clean: boolean): Promise<string | undefined> =>
      auth.authenticate({ clientId, clean, username, password: Buffer.from(password), remoteAddress: '127.0.0.1' });
    await expect(as('root', 'r', 'ops-console', false)).resolves.toBe('root');
    auth.clientClosed({ clientId: 'ops-console', username: 'root', clean: false });
    // The persistent session outlives its connection: still root's.
    await expect(as('dash', 'd', 'ops-console', true)).rejects.toMatchObject({ code: 'EDGETWIN_ERR_CLIENT_ID_TAKEN' });
    await expect(as('root', 'r', 'ops-console', false)).resolves.toBe('root'); // the owner comes back
    await expect(as('root', 'r', 'ops-console', true)).resolves.toBe('root'); // and takes itself over, ending the session
    auth.clientClosed({ clientId: 'ops-console', username: 'root', clean: false });
    auth.clientClosed({ clientId: 'ops-console', username: 'root', clean: true });
    await expect(as('dash', 'd', 'ops-console', true)).resolves.toBe('dash'); // no session left: free
    expect(auth.stats().clientIdRefused).toBe(1);
    auth.stop();
  });

  it('refuses settings under which nobody could connect', () => {
    expect(() => make({ anonymous: 'off' })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_AUTH_CONFIG' }));
    expect(() => make({ clientCertificates: 'required' })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_AUTH_CONFIG' }));
    expect(() => make({ usersFile: path.join(dir, 'missing.yaml') })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_USERS_FILE' }));
  });

  it('lets a mapper report and a writer decide, judged on what an update changes', async () => {
    const file = path.join(dir, 'roles.yaml');
    writeUser(file, 'm', { role: 'mapper', protocols: ['modbus'] });
    writeUser(file, 'w', { role: 'writer' });
    const auth = make({ usersFile: file, anonymous: 'any', anonymousRole: 'app' });
    const check = (username: string | undefined, ...kinds: Array<'desired' | 'reported' | 'ack' | 'delete' | 'optional'>): string | undefined =>
      auth.authorizeChange({ clientId: 'c', ...(username ? { username } : {}) }, 'default/thermo', new Set(kinds))?.code;
    expect(check('m', 'reported', 'ack')).toBeUndefined();
    expect(check('m', 'reported', 'desired')).toBe('EDGETWIN_ERR_ACCESS_DENIED');
    expect(check('w', 'desired', 'delete')).toBeUndefined();
    expect(check('w', 'reported')).toBe('EDGETWIN_ERR_ACCESS_DENIED');
    expect(check(undefined, 'desired')).toBe('EDGETWIN_ERR_ACCESS_DENIED'); // anonymous is an app here
    expect(check('gone', 'reported')).toBe('EDGETWIN_ERR_ACCESS_DENIED');
    // In-process publishes (mappers running inside edgetwin) are trusted.
    expect(auth.authorizeChange({}, 'default/thermo', new Set(['desired', 'reported']))).toBeUndefined();
  });
});
