// The metrics and health HTTP endpoint (default 127.0.0.1:9464): `/metrics` (Prometheus text
// format), `/healthz` (the process is alive and its event loop turns) and `/readyz` (store open,
// broker listening, start-up finished; cloud sync reported). JSON bodies, 200 or 503.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { edgetwinError } from '../errors.js';

export interface ReadinessCheck {
  readonly ok: boolean;
  readonly detail: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
}

export interface HealthServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly logger: Logger;
  /** The Prometheus exposition. */
  readonly metrics: () => Promise<{ readonly contentType: string; readonly body: string }>;
  readonly readiness: () => Readiness;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export class HealthServer {
  private readonly o: HealthServerOptions;
  private readonly startedAt = Date.now();
  private server: Server | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: HealthServerOptions) {
    this.o = options;
  }

  /** `http://host:port` once listening. */
  get url(): string | undefined {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) return undefined;
    const host = this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host;
    return `http://${host}:${address.port}`;
  }

  /** Listens; rejects with EDGETWIN_ERR_METRICS_LISTEN (e.g. the port is taken). */
  async start(): Promise<void> {
    const server = createServer((req, res) => this.route(req, res));
    // A scrape is one short request; idle keep-alive sockets must not delay close().
    server.keepAliveTimeout = 5000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.o.port, this.o.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw edgetwinError('EDGETWIN_ERR_METRICS_LISTEN', `Cannot serve metrics on ${this.o.host}:${this.o.port}: ${reason}.`, [], err);
    }
    server.on('error', (err) => this.o.logger.error({ err }, 'metrics server error'));
    this.server = server;
  }

  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      const server = this.server;
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return this.closing;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': JSON_TYPE }).end(JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    switch (path) {
      case '/metrics':
        this.o
          .metrics()
          .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body))
          .catch((err: unknown) => {
            this.o.logger.error({ err }, 'metrics collection failed');
            if (!res.headersSent) res.writeHead(500, { 'content-type': JSON_TYPE }).end(JSON.stringify({ error: 'metrics collection failed' }));
          });
        return;
      case '/healthz':
        // Answering at all proves the event loop turns; that is what "alive" can mean here.
        send(res, 200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) });
        return;
      case '/readyz': {
        const { ready, checks } = this.o.readiness();
        send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
        return;
      }
      default:
        send(res, 404, { error: 'not found', endpoints: ['/metrics', '/healthz', '/readyz'] });
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
