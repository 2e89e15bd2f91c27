// Wires the web console (docs/console.md) and the HTTP API it uses into the HTTP server: the
// session login, the device and node endpoints, the WebSocket and, when `http.console` is on,
// the built page itself. app.ts calls addConsole() while building the router, attach() once the
// twin runs, observePoll() from the mapper runtime, and close() before the server closes.

import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { DeviceTwin } from '../devicetwin/index.js';
import type { BrokerAuth } from '../eventbus/index.js';
import type { MapperRuntimeOptions } from '../mappers/index.js';
import type { EdgetwinConfig } from '../schemas/index.js';
import {
  ConsoleSockets,
  Sessions,
  TwinFeed,
  addDeviceRoutes,
  addNodeRoutes,
  addSessionRoutes,
  consoleDir,
  staticHandler,
  type Handler,
  type MapperStatus,
  type NodeSources,
  type Router,
} from './http/index.js';

type PollReport = Parameters<NonNullable<MapperRuntimeOptions['onPoll']>>[0];

export interface ConsoleOptions {
  readonly config: EdgetwinConfig;
  readonly auth: BrokerAuth;
  readonly logger: Logger;
  readonly twin: () => DeviceTwin | undefined;
  readonly mappers: () => readonly MapperStatus[];
  readonly node: Omit<NodeSources, 'sessions'>;
}

export interface ConsoleApi {
  /** For HttpServerOptions.fallback: the console's files (undefined when `http.console` is off or not built). */
  readonly fallback: Handler | undefined;
  readonly upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** The caller: the console's session, else HTTP Basic or anonymous (for the history route). */
  identify(req: IncomingMessage): Promise<{ readonly name: string | undefined }>;
  attach(twin: DeviceTwin): void;
  observePoll(poll: PollReport): void;
  close(): void;
}

/** The session cookie's HMAC key: kept in the data dir (0600) so sessions survive a restart. */
function sessionSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, 'console-session.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (key.length >= 32) return key;
  }
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
}

export function addConsole(router: Router, o: ConsoleOptions): ConsoleApi {
  const { config, auth } = o;
  const usersFile = config.mqtt.auth.usersFile;
  const sessions = new Sessions({ auth, secret: sessionSecret(config.dataDir), anonymousRole: config.mqtt.auth.anonymousRole, ...(usersFile !== undefined ? { usersFile } : {}) });
  const feed = new TwinFeed();
  const polls = new Map<string, number>();
  const sources = { auth, sessions, feed, twin: o.twin, mappers: o.mappers, pollSeconds: (id: string) => polls.get(id) };
  addSessionRoutes(router, sessions, auth);
  addDeviceRoutes(router, sources);
  addNodeRoutes(router, { ...o.node, sessions });
  const sockets = new ConsoleSockets(sources, o.logger);
  sockets.start();
  let fallback: Handler | undefined;
  if (config.http.console) {
    const dir = consoleDir();
    if (dir) fallback = staticHandler(dir);
    else o.logger.warn('http.console is on but the console is not built (npm run build): serving the HTTP API only');
  }
  return {
    fallback,
    upgrade: (req, socket, head) => sockets.upgrade(req, socket, head, (r) => sessions.identify(r)),
    identify: (req) => sessions.identify(req),
    attach: (twin) => feed.start(twin),
    observePoll: (poll) => {
      if (poll.ok) polls.set(poll.device, poll.seconds);
    },
    close: () => {
      feed.stop();
      sockets.close();
    },
  };
}
