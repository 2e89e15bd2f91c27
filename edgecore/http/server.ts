// edgetwin's one HTTP server (default 127.0.0.1:9464): /metrics, /healthz, /readyz and the
// HTTP API under /api/v1 (docs/http-api.md). It routes (router.ts) and renders answers and
// coded errors as JSON; what each endpoint does and who may call it is in its route module.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { edgetwinError, isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import { Router, type Handler, type Reply } from './router.js';

export interface HttpServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly logger: Logger;
  readonly router: Router;
  /** Answers a GET or HEAD no route matched (the console's files, static.ts); its reply may still be a 404. */
  readonly fallback?: Handler;
  /** Takes an HTTP Upgrade (the console's WebSocket, ws.ts); without it upgrades are refused. */
  readonly upgrade?: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
}

export const JSON_TYPE = 'application/json; charset=utf-8';
const BASE_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

/** A JSON reply. */
export function json(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply {
  return { status, headers: { 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify(body) };
}

/** The reply for a coded error: its status, and `{error: {code, status, message, details?}}`. */
export function errorReply(err: EdgetwinError): Reply {
  const headers: Record<string, string> = {};
  // RFC 7617: a 401 names the scheme the client should use.
  if (err.status === 401) headers['www-authenticate'] = 'Basic realm="edgetwin", charset="UTF-8"';
  return json(err.status, { error: err.toJSON() }, headers);
}

export class HttpServer {
  readonly #o: HttpServerOptions;
  #server: Server | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: HttpServerOptions) {
    this.#o = options;
  }

  /** `http://host:port` once listening. */
  get url(): string | undefined {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    if (!address) return undefined;
    const host = this.#o.host.includes(':') ? `[${this.#o.host}]` : this.#o.host;
    return `http://${host}:${address.port}`;
  }

  /** Listens; rejects with EDGETWIN_ERR_METRICS_LISTEN (e.g. the port is taken). */
  async start(): Promise<void> {
    const server = createServer((req, res) => void this.#serve(req, res));
    // Answers are short; idle keep-alive sockets must not delay close().
    server.keepAliveTimeout = 5000;
    // A request that has not sent its headers in 10 s is dropped (slowloris).
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#o.port, this.#o.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw edgetwinError('EDGETWIN_ERR_METRICS_LISTEN', `Cannot serve HTTP (metrics, health, API) on ${this.#o.host}:${this.#o.port}: ${reason}.`, [], err);
    }
    server.on('error', (err) => this.#o.logger.error({ err }, 'http server error'));
    const upgrade = this.#o.upgrade;
    if (upgrade) server.on('upgrade', (req, socket, head) => upgrade(req, socket as Socket, head));
    this.#server = server;
  }

  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      const server = this.#server;
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return this.#closing;
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let reply: Reply;
    try {
      const url = new URL(req.url ?? '/', 'http://edgetwin.invalid');
      const match = this.#o.router.match(method, url.pathname);
      if (match.kind === 'found') reply = await match.handler({ method, url, params: match.params, raw: req });
      else if (match.kind === 'none' && this.#o.fallback && (method === 'GET' || method === 'HEAD')) {
        reply = await this.#o.fallback({ method, url, params: {}, raw: req });
      } else if (match.kind === 'method') {
        const allow = match.allow.join(', ');
        reply = errorReply(edgetwinError('EDGETWIN_ERR_HTTP_METHOD', `${url.pathname} answers ${allow}, not ${method}`));
        reply = { ...reply, headers: { ...reply.headers, allow } };
      } else {
        reply = errorReply(edgetwinError('EDGETWIN_ERR_HTTP_NOT_FOUND', `no endpoint ${url.pathname}; the endpoints are ${this.#o.router.paths.join(', ')} (docs/http-api.md)`));
      }
    } catch (err) {
      if (!isEdgetwinError(err)) this.#o.logger.error({ err, url: req.url }, 'http handler failed');
      reply = errorReply(toEdgetwinError(err));
    }
    if (res.headersSent || res.destroyed) return;
    // The console's own calls (header x-edgetwin-console) get no Basic challenge: a browser would
    // answer it with its password prompt instead of letting the page show its login.
    if (reply.status === 401 && req.headers['x-edgetwin-console'] !== undefined && reply.headers?.['www-authenticate'] !== undefined) {
      const { 'www-authenticate': _challenge, ...headers } = reply.headers;
      reply = { ...reply, headers };
    }
    res.writeHead(reply.status, { ...BASE_HEADERS, ...reply.headers }).end(method === 'HEAD' ? undefined : reply.body);
  }
}
