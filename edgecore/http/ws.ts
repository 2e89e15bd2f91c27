// The console's one WebSocket per browser, /api/v1/ws (docs/http-api.md "WebSocket"): the server
// pushes each committed change of a device the caller may see (its summary, its twin document and
// the change's events: reported and desired values, deltas, ack results, state changes, errors),
// and every few seconds the device summaries (mapper health changes without a twin change). The
// browser sends nothing but pings; it never polls. Same origin only, authenticated at the upgrade.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { isEdgetwinError } from '../../errors.js';
import { maySee, summaries, summarize, type DeviceSources } from './devices.js';
import type { Caller } from './session.js';

export const WS_PATH = '/api/v1/ws';
const HEALTH_EVERY_MS = 5000;
/** A browser that sends more than a ping is misbehaving: messages are capped small. */
const MAX_MESSAGE_BYTES = 1024;
/** Messages queued for a slow browser before it is dropped (it reconnects and reloads). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export class ConsoleSockets {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  readonly #clients = new Map<WebSocket, Caller>();
  readonly #s: DeviceSources;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #offFeed: (() => void) | undefined;

  constructor(sources: DeviceSources, logger: Logger) {
    this.#s = sources;
    this.#logger = logger;
  }

  start(): void {
    this.#offFeed = this.#s.feed.on((change) => {
      const twin = this.#s.twin();
      const entry = twin?.list().find((e) => e.state.id === change.id);
      if (!entry) return;
      const mapper = this.#s.mappers().find((m) => m.id === change.id);
      const message = JSON.stringify({ type: 'change', device: summarize(entry, mapper, this.#s.pollSeconds(change.id)), twin: change.device, events: change.events });
      for (const [ws, caller] of this.#clients) if (maySee(this.#s, caller, change.id)) this.#send(ws, message);
    });
    this.#timer = setInterval(() => this.#health(), HEALTH_EVERY_MS);
    this.#timer.unref();
  }

  /** The server's `upgrade` event: answers /api/v1/ws, refuses everything else. */
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer, identify: (req: IncomingMessage) => Promise<Caller>): void {
    const refuse = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://edgetwin.invalid');
    if (url.pathname !== WS_PATH) return refuse(404, 'Not Found');
    const origin = req.headers.origin;
    const host = req.headers.host ?? '';
    // Browsers always send Origin on a WebSocket handshake (RFC 6455 §10.2): another site's page is refused.
    if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) return refuse(403, 'Forbidden');
    identify(req).then(
      (caller) => {
        if (caller.role === 'mapper') return refuse(403, 'Forbidden');
        this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, caller));
      },
      (err: unknown) => refuse(isEdgetwinError(err) ? err.status : 500, 'Refused'),
    );
  }

  #accept(ws: WebSocket, caller: Caller): void {
    this.#clients.set(ws, caller);
    ws.on('close', () => this.#clients.delete(ws));
    ws.on('error', (err) => this.#logger.debug({ err }, 'console websocket error'));
    ws.on('message', (data, isBinary) => {
      if (!isBinary && Buffer.isBuffer(data) && data.toString('utf8') === '"ping"') this.#send(ws, '"pong"');
    });
    this.#send(ws, JSON.stringify({ type: 'hello', user: caller.name ?? null, role: caller.role }));
    this.#health(ws);
  }

  #health(only?: WebSocket): void {
    const twin = this.#s.twin();
    if (!twin) return;
    for (const [ws, caller] of this.#clients) {
      if (only && ws !== only) continue;
      this.#send(ws, JSON.stringify({ type: 'devices', devices: summaries(this.#s, twin, caller) }));
    }
  }

  #send(ws: WebSocket, message: string): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.terminate();
      return;
    }
    ws.send(message);
  }

  /** Closes every socket (1001 going away: the browser reconnects when edgetwin is back). */
  close(): void {
    this.#offFeed?.();
    if (this.#timer) clearInterval(this.#timer);
    for (const ws of this.#clients.keys()) ws.close(1001, 'edgetwin is stopping');
    for (const ws of this.#clients.keys()) ws.terminate();
    this.#clients.clear();
    this.#wss.close();
  }
}
