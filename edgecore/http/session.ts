// The console's login (docs/http-api.md "Session"): the broker's users file, the same password
// check and throttle as an MQTT CONNECT (BrokerAuth.identifyRequest), the same roles. A login
// yields a signed session cookie (HttpOnly, SameSite=Strict: RFC 6265bis §4.1.2.7) and a CSRF
// token the page sends back in `x-edgetwin-csrf` with every state-changing request.
//
// The cookie is `base64url(payload).hmac`, the HMAC-SHA256 keyed with a secret kept in the data
// dir, so a session survives a restart of edgetwin (the console reconnects without a new login);
// logging out revokes its nonce in memory. A caller without the cookie may still use HTTP Basic,
// or anonymous from this machine, exactly as auth.ts allows.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { edgetwinError } from '../../errors.js';
import { isLoopback, listUsers, type BrokerAuth, type Role } from '../../eventbus/index.js';
import { authenticateHttp } from './auth.js';
import { readJsonObject } from './body.js';
import type { Router } from './router.js';
import { json } from './server.js';

export const SESSION_COOKIE = 'edgetwin_session';
export const CSRF_HEADER = 'x-edgetwin-csrf';

/** Who calls: a console session, HTTP Basic, or the anonymous principal (name undefined). */
export interface Caller {
  readonly name: string | undefined;
  readonly role: Role;
  readonly via: 'session' | 'basic' | 'anonymous';
  /** For a session: the token its state-changing requests must carry. */
  readonly csrf?: string;
  readonly nonce?: string;
}

interface Payload {
  /** The user name, or '' for anonymous. */
  readonly u: string;
  readonly r: Role;
  /** Expiry, ms since the epoch. */
  readonly e: number;
  readonly n: string;
}

export interface SessionOptions {
  readonly auth: BrokerAuth;
  /** HMAC key of the session cookie (edgecore/console.ts keeps it in the data dir). */
  readonly secret: Buffer;
  readonly usersFile?: string;
  readonly anonymousRole: Role;
  readonly ttlMs?: number;
  readonly clock?: () => number;
}

const DEFAULT_TTL_MS = 12 * 3600_000;

export class Sessions {
  readonly #o: SessionOptions;
  readonly #revoked = new Map<string, number>();

  constructor(options: SessionOptions) {
    this.#o = options;
  }

  #now(): number {
    return this.#o.clock ? this.#o.clock() : Date.now();
  }

  #mac(text: string): string {
    return createHmac('sha256', this.#o.secret).update(text).digest('base64url');
  }

  /** A new session for `name` (undefined: anonymous): the Set-Cookie value and its CSRF token. */
  issue(name: string | undefined, role: Role): { cookie: string; csrf: string; expiresAt: number } {
    const ttl = this.#o.ttlMs ?? DEFAULT_TTL_MS;
    const payload: Payload = { u: name ?? '', r: role, e: this.#now() + ttl, n: randomBytes(16).toString('base64url') };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const value = `${body}.${this.#mac(body)}`;
    return {
      cookie: `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(ttl / 1000)}`,
      csrf: this.#mac(`csrf:${payload.n}`),
      expiresAt: payload.e,
    };
  }

  /** The session the request's cookie carries, if valid, unexpired and not logged out. */
  read(req: IncomingMessage): Caller | undefined {
    const value = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (value === undefined) return undefined;
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const body = value.slice(0, dot);
    const mac = Buffer.from(value.slice(dot + 1));
    const want = Buffer.from(this.#mac(body));
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return undefined;
    let p: Payload;
    try {
      p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      return undefined;
    }
    if (typeof p.e !== 'number' || p.e <= this.#now() || this.#revoked.has(p.n)) return undefined;
    return { name: p.u === '' ? undefined : p.u, role: p.r, via: 'session', csrf: this.#mac(`csrf:${p.n}`), nonce: p.n };
  }

  revoke(caller: Caller): void {
    if (caller.nonce === undefined) return;
    const now = this.#now();
    for (const [n, until] of this.#revoked) if (until <= now) this.#revoked.delete(n);
    this.#revoked.set(caller.nonce, now + (this.#o.ttlMs ?? DEFAULT_TTL_MS));
  }

  /** The user's role in the users file now (undefined: not there). */
  roleOf(name: string | undefined): Role | undefined {
    if (name === undefined) return this.#o.anonymousRole;
    if (this.#o.usersFile === undefined) return undefined;
    return listUsers(this.#o.usersFile).find((u) => u.name === name)?.role;
  }

  /** The session, else HTTP Basic or anonymous-from-loopback (auth.ts); throws EDGETWIN_ERR_AUTH_FAILED. */
  async identify(req: IncomingMessage): Promise<Caller> {
    const session = this.read(req);
    if (session) return session;
    const { name } = await authenticateHttp(this.#o.auth, req);
    const role = this.roleOf(name);
    if (role === undefined) throw edgetwinError('EDGETWIN_ERR_ACCESS_DENIED', `${name ?? 'anonymous'} is no longer in the users file`);
    return { name, role, via: name === undefined ? 'anonymous' : 'basic' };
  }

  /**
   * For every state-changing request: same origin (an `Origin` header, which browsers send with
   * every POST/PUT/DELETE, must name this server), and with a session cookie its CSRF token.
   * Throws EDGETWIN_ERR_HTTP_CSRF.
   */
  checkChange(req: IncomingMessage, caller: Caller): void {
    const origin = req.headers.origin;
    const host = req.headers.host ?? '';
    if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
      throw edgetwinError('EDGETWIN_ERR_HTTP_CSRF', `requests from ${JSON.stringify(origin.slice(0, 200))} are refused: the HTTP API takes changes from its own origin only`);
    }
    if (caller.via !== 'session') return;
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || caller.csrf === undefined || !safeEqual(sent, caller.csrf)) {
      throw edgetwinError('EDGETWIN_ERR_HTTP_CSRF', `a change made with the console's session cookie must carry the session's CSRF token in the ${CSRF_HEADER} header`);
    }
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function describe(caller: Caller): Record<string, unknown> {
  return { user: caller.name ?? null, role: caller.role, via: caller.via, canWrite: caller.role === 'admin' || caller.role === 'writer' };
}

/** GET/POST/DELETE /api/v1/session. */
export function addSessionRoutes(router: Router, sessions: Sessions, auth: BrokerAuth): Router {
  return router
    .get('/api/v1/session', ({ raw }) => {
      const caller = sessions.read(raw);
      // Not logged in is an answer here, not an error: the page shows its login form, with the
      // anonymous choice when this machine may use it.
      if (!caller) return json(200, { authenticated: false, anonymous: auth.anonymous !== 'off' && isLoopback(raw.socket.remoteAddress) });
      return json(200, { authenticated: true, ...describe(caller), csrf: caller.csrf });
    })
    .post('/api/v1/session', async ({ raw }) => {
      sessions.checkChange(raw, { name: undefined, role: 'app', via: 'anonymous' });
      const body = await readJsonObject(raw);
      const { username, password } = body;
      for (const key of Object.keys(body)) {
        if (key !== 'username' && key !== 'password') throw edgetwinError('EDGETWIN_ERR_HTTP_BODY', `unknown field ${JSON.stringify(key.slice(0, 64))}: a login takes username and password (both absent: anonymous)`);
      }
      if ((username !== undefined && typeof username !== 'string') || (password !== undefined && typeof password !== 'string')) {
        throw edgetwinError('EDGETWIN_ERR_HTTP_BODY', 'username and password must be strings');
      }
      const remoteAddress = raw.socket.remoteAddress;
      const local = isLoopback(remoteAddress);
      let name: string | undefined;
      if (username === undefined || username === '') {
        if (!local) throw edgetwinError('EDGETWIN_ERR_AUTH_FAILED', 'anonymous logins are accepted from this machine only: give a user name and password');
        name = await auth.identifyRequest({ clientId: 'console', ...(remoteAddress !== undefined ? { remoteAddress } : {}) });
      } else {
        name = await auth.identifyRequest({ clientId: 'console', username, password: Buffer.from(password ?? '', 'utf8'), ...(remoteAddress !== undefined ? { remoteAddress } : {}) });
        if (name === undefined) throw edgetwinError('EDGETWIN_ERR_AUTH_FAILED', 'no users file is configured (mqtt.auth.usersFile), so a user name cannot be checked: log in without one (from this machine)');
      }
      const role = sessions.roleOf(name);
      if (role === undefined) throw edgetwinError('EDGETWIN_ERR_AUTH_FAILED', `${name ?? 'anonymous'} is not in the users file`);
      if (role === 'mapper') throw edgetwinError('EDGETWIN_ERR_ACCESS_DENIED', `${name ?? 'anonymous'} is a mapper account: it reports values and cannot log in to the console (use an app, writer or admin user)`);
      const { cookie, csrf, expiresAt } = sessions.issue(name, role);
      return json(200, { authenticated: true, ...describe({ name, role, via: 'session' }), csrf, expiresAt }, { 'set-cookie': cookie });
    })
    .delete('/api/v1/session', ({ raw }) => {
      const caller = sessions.read(raw);
      if (caller) {
        sessions.checkChange(raw, caller);
        sessions.revoke(caller);
      }
      return json(200, { authenticated: false }, { 'set-cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` });
    });
}
