// What the broker knows of a client at CONNECT, and the hook that decides who it is.
// Kept apart from the policy (auth.ts) so the broker depends only on these few types.

/** A client at CONNECT, before it is admitted. */
export interface ConnectingClient {
  readonly clientId: string;
  /** The CONNECT's clean session flag (false: the session outlives the connection). Default true. */
  readonly clean?: boolean;
  /** The CONNECT username, as sent. */
  readonly username?: string;
  readonly password?: Buffer;
  readonly remoteAddress?: string;
  /** TLS only: the subject CN of a client certificate that verified against the configured CA. */
  readonly certificateName?: string;
  /** TLS only: why a presented client certificate did not verify (it is then not used). */
  readonly certificateError?: string;
}

/** A client the authenticator accepted, once its connection has closed. */
export interface ClosedClient {
  readonly clientId: string;
  /** The name the authenticator returned (undefined: anonymous). */
  readonly username?: string;
  readonly clean: boolean;
}

/**
 * Decides a CONNECT: resolves to the name the client is authenticated as (undefined for an
 * anonymous client), or rejects, preferably with EDGETWIN_ERR_AUTH_FAILED, to refuse it.
 */
export type Authenticator = (client: ConnectingClient) => Promise<string | undefined>;

/**
 * Is this a loopback peer? 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (`::ffff:127.0.0.1`,
 * what a dual-stack listener reports). Anything else, or no address at all, is not.
 */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return true;
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}
