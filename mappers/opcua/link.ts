// One device's connection: an OPCUAClient, its secure channel and one session, opened on first
// use and opened again after a drop. node-opcua's own reconnection is switched off
// (connectionStrategy.maxRetry 0) so there is one retry policy: the runtime's for polls, and
// backoffMs (edgetwin/sdk) for keeping monitored items alive when nobody polls.

import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { edgetwinError, isEdgetwinError, type EdgetwinError } from 'edgetwin';
import { backoffMs, type BackoffOptions } from 'edgetwin/sdk';
import type { Endpoint } from './config.js';
import { loadNodeOpcua, type NodeOpcua } from './load.js';
import { CLIENT_APPLICATION_NAME, certificateManager } from './pki.js';

import type { ClientSession, OPCUAClient, UserIdentityInfo } from 'node-opcua';

type Client = OPCUAClient;
export type Session = ClientSession;

export interface LinkOptions {
  readonly deviceId: string;
  readonly endpoint: Endpoint;
  readonly pkiDir: string;
  readonly logger: Logger;
  readonly backoff: BackoffOptions;
}

export interface Connected {
  readonly ua: NodeOpcua;
  readonly session: Session;
  /** Counts sessions: changes when the link was opened again. */
  readonly generation: number;
}

export function connectionError(deviceId: string, url: string, reason: string, cause?: unknown): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_MAPPER_CONNECTION', `${deviceId}: OPC UA connection to ${url}: ${reason}`, [], cause);
}

/** The coded error for an aborted wait: the signal's reason when coded, else a timeout or a cancel. */
export function abortError(signal: AbortSignal, what: string): EdgetwinError {
  const reason: unknown = signal.reason;
  if (isEdgetwinError(reason)) return reason;
  if (reason instanceof Error && reason.name === 'AbortError') return edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `Cancelled while ${what}`, [], reason);
  return edgetwinError('EDGETWIN_ERR_MAPPER_TIMEOUT', `Deadline passed while ${what}`, [], reason);
}

/** Resolves or rejects with `work`, or rejects with a coded error when `signal` fires or `ms` (if given) pass. */
export function race<T>(work: Promise<T>, signal: AbortSignal | undefined, ms: number | undefined, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal, what));
      return;
    }
    const timer = ms === undefined ? undefined : setTimeout(() => finish(() => reject(edgetwinError('EDGETWIN_ERR_MAPPER_TIMEOUT', `No answer within ${ms} ms while ${what}`))), ms);
    const onAbort = (): void => finish(() => reject(abortError(signal!, what)));
    signal?.addEventListener('abort', onAbort, { once: true });
    let done = false;
    function finish(settle: () => void): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    }
    work.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

export class OpcuaLink {
  readonly #o: LinkOptions;
  #client: Client | undefined;
  #current: Connected | undefined;
  #opening: Promise<Connected> | undefined;
  #generation = 0;
  #failures = 0;
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #onOpen = new Set<(c: Connected) => void>();
  readonly #onLost = new Set<(e: EdgetwinError) => void>();
  /** Keep reconnecting after a drop without being asked (true while monitored items exist). */
  persistent = false;

  constructor(o: LinkOptions) {
    this.#o = o;
  }

  get connects(): number {
    return this.#generation;
  }

  get open(): boolean {
    return this.#current !== undefined;
  }

  /** Called with each new session (monitored items are re-created there). */
  onOpen(fn: (c: Connected) => void): () => void {
    this.#onOpen.add(fn);
    return () => this.#onOpen.delete(fn);
  }

  onLost(fn: (e: EdgetwinError) => void): () => void {
    this.#onLost.add(fn);
    return () => this.#onLost.delete(fn);
  }

  /** The open session, opening one if needed (one attempt shared by every caller). */
  async session(signal?: AbortSignal): Promise<Connected> {
    if (this.#closed) throw edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${this.#o.deviceId}: the OPC UA driver is closed`);
    if (this.#current) return this.#current;
    this.#opening ??= this.#openOnce().finally(() => (this.#opening = undefined));
    // Each network step of the attempt has its own deadline (timeout); the local ones (loading
    // node-opcua, making the client certificate) always end. A caller's signal stops only its wait.
    return race(this.#opening, signal, undefined, `connecting to ${this.#o.endpoint.url}`);
  }

  /** The session failed under a request (e.g. BadSessionIdInvalid): drop it, open another next time. */
  invalidate(session: Session, reason: string): void {
    if (this.#current?.session === session) this.#lose(connectionError(this.#o.deviceId, this.#o.endpoint.url, reason));
  }

  async #openOnce(): Promise<Connected> {
    const { endpoint, deviceId, pkiDir } = this.#o;
    const ua = await loadNodeOpcua();
    if (this.#closed) throw edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${deviceId}: the OPC UA driver is closed`);
    const identity = await this.#identity(ua);
    const client = ua.OPCUAClient.create({
      applicationName: CLIENT_APPLICATION_NAME,
      clientName: `edgetwin-${deviceId}`,
      endpointMustExist: false,
      securityMode: ua.MessageSecurityMode[endpoint.securityMode],
      securityPolicy: ua.SecurityPolicy[endpoint.securityPolicy],
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
      keepSessionAlive: true,
      requestedSessionTimeout: 60_000,
      defaultTransactionTimeout: endpoint.timeoutMs,
      transportTimeout: endpoint.timeoutMs,
      clientCertificateManager: await certificateManager(ua, pkiDir),
      ...(endpoint.certificateFile ? { certificateFile: endpoint.certificateFile, privateKeyFile: endpoint.privateKeyFile } : {}),
    });
    this.#client = client;
    const fail = async (reason: string, cause?: unknown): Promise<never> => {
      await client.disconnect().catch(() => undefined);
      if (this.#client === client) this.#client = undefined;
      this.#failures++;
      throw isEdgetwinError(cause) ? cause : connectionError(deviceId, endpoint.url, reason, cause);
    };
    try {
      // Key generation is local work, not the server's answer: it stays outside the connect deadline.
      if (!endpoint.certificateFile) await client.createDefaultCertificate();
    } catch (err) {
      return fail(`no client certificate in ${pkiDir}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    try {
      await race(client.connect(endpoint.url), undefined, endpoint.timeoutMs, `connecting to ${endpoint.url}`);
    } catch (err) {
      return fail(err instanceof Error ? err.message : String(err), err);
    }
    let session: Session;
    try {
      session = await race(client.createSession(identity), undefined, endpoint.timeoutMs, `opening a session on ${endpoint.url}`);
    } catch (err) {
      return fail(`no session: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    if (this.#closed) {
      await session.close().catch(() => undefined);
      return fail('the driver closed while connecting');
    }
    const lost = (why: string) => () => {
      if (this.#current?.session === session) this.#lose(connectionError(deviceId, endpoint.url, why));
    };
    client.on('connection_lost', lost('connection lost'));
    client.on('start_reconnection', lost('connection lost'));
    client.on('close', lost('connection closed'));
    session.on('session_closed', lost('session closed by the server'));
    session.on('keepalive_failure', lost('session keep-alive failed'));
    this.#generation++;
    this.#failures = 0;
    const connected: Connected = { ua, session, generation: this.#generation };
    this.#current = connected;
    this.#o.logger.debug({ device: deviceId, url: endpoint.url, generation: this.#generation }, 'OPC UA session open');
    for (const fn of this.#onOpen) fn(connected);
    return connected;
  }

  async #identity(ua: NodeOpcua): Promise<UserIdentityInfo> {
    const { userName, passwordFile } = this.#o.endpoint;
    if (userName === undefined || passwordFile === undefined) return { type: ua.UserTokenType.Anonymous };
    let password: string;
    try {
      // KubeEdge's mapper reads the password from a file and drops its final newline.
      password = (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `${this.#o.deviceId}: OPC UA password file ${passwordFile} cannot be read: ${(err as Error).message}`, [], err);
    }
    return { type: ua.UserTokenType.UserName, userName, password };
  }

  #lose(error: EdgetwinError): void {
    const current = this.#current;
    if (!current) return;
    this.#current = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#o.logger.debug({ device: this.#o.deviceId, err: error.message }, 'OPC UA session lost');
    void client?.disconnect().catch(() => undefined);
    for (const fn of this.#onLost) fn(error);
    this.#scheduleRetry();
  }

  /** With monitored items, a lost link is opened again by itself, with backoff. */
  #scheduleRetry(): void {
    if (this.#closed || !this.persistent || this.#retryTimer) return;
    const delay = backoffMs(this.#failures + 1, this.#o.backoff);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#closed || this.#current) return;
      this.session().catch(() => this.#scheduleRetry());
    }, delay);
    this.#retryTimer.unref();
  }

  /** Starts the self-driven retry now (e.g. a subscription was added while the link is down). */
  kick(): void {
    if (!this.#current && !this.#opening) this.#scheduleRetry();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const current = this.#current;
    this.#current = undefined;
    const client = this.#client;
    this.#client = undefined;
    await this.#opening?.catch(() => undefined);
    await current?.session.close().catch(() => undefined);
    await client?.disconnect().catch(() => undefined);
    // An attempt that finished after close() started owns a client of its own: close it too.
    const late = this.#client as Client | undefined;
    if (late && late !== client) await late.disconnect().catch(() => undefined);
  }
}
