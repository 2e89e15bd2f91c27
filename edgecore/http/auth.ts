// Who is calling the HTTP API, by docs/security.md's rules: anonymous requests only from this
// machine, and only when the broker takes anonymous clients (as its anonymousRole); otherwise
// HTTP Basic (RFC 7617) with a user of the broker's users file, checked as a CONNECT is
// (eventbus/auth: the same scrypt check, the same roles). /metrics, /healthz and /readyz ask
// nobody: they carry no device values.

import type { IncomingMessage } from 'node:http';
import { edgetwinError, type EdgetwinError } from '../../errors.js';
import { isLoopback, type BrokerAuth } from '../../eventbus/index.js';

/** The authenticated user's name, or undefined for the anonymous principal. */
export type HttpUser = { readonly name: string | undefined };

function failed(message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_AUTH_FAILED', message);
}

/** `Basic base64(user:password)` → its parts; undefined without the header. */
function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  if (!m) throw failed('the Authorization header must be HTTP Basic: "Basic " and base64 of user:password');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw failed('the Basic credentials must be user:password');
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Authenticates one request; throws EDGETWIN_ERR_AUTH_FAILED (401). */
export async function authenticateHttp(auth: BrokerAuth, req: IncomingMessage): Promise<HttpUser> {
  const remoteAddress = req.socket.remoteAddress;
  const local = isLoopback(remoteAddress);
  const credentials = basicCredentials(req.headers.authorization);
  if (credentials === undefined) {
    // mqtt.auth.anonymous: any is an MQTT choice; over HTTP anonymous stays local.
    if (!local) throw failed(`anonymous HTTP requests are accepted from this machine only, not from ${remoteAddress ?? 'an unknown address'}: send HTTP Basic credentials of a user of the users file`);
    return { name: await auth.identifyRequest({ clientId: 'http', ...(remoteAddress !== undefined ? { remoteAddress } : {}) }) };
  }
  const name = await auth.identifyRequest({
    clientId: 'http',
    username: credentials.username,
    password: Buffer.from(credentials.password, 'utf8'),
    ...(remoteAddress !== undefined ? { remoteAddress } : {}),
  });
  // Without a users file a name cannot be checked: the caller is anonymous, so local only.
  if (name === undefined && !local) throw failed('no users file is configured (mqtt.auth.usersFile), so credentials cannot be checked: requests are accepted from this machine only');
  return { name };
}
