// A gRPC server on a unix socket for one DMI service: the edge serves DeviceManagerService,
// a mapper DeviceMapperService. Handlers are plain async functions of the decoded request; a
// rejection becomes a gRPC status carrying edgetwin's code (dmi/proto.ts toServiceError), so a
// bad message is answered, never thrown through grpc-js, and never takes the process down.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { edgetwinError, formatError, isEdgetwinError, toEdgetwinError } from '../errors.js';
import { toServiceError, unixTarget } from './proto.js';
import { prepareSocket } from './socket.js';

export type UnaryHandler = (request: never) => Promise<object>;

export interface ServedCall {
  readonly method: string;
  readonly seconds: number;
  /** '' when answered OK, else the EDGETWIN_ERR_… code. */
  readonly code: string;
}

export interface UnixServerOptions {
  readonly socketPath: string;
  /** For messages: "the DMI socket", "the mapper socket". */
  readonly what: string;
  readonly service: grpc.ServiceDefinition;
  readonly handlers: Readonly<Record<string, UnaryHandler>>;
  readonly logger: Logger;
  readonly onCall?: (call: ServedCall) => void;
}

export class UnixGrpcServer {
  private readonly o: UnixServerOptions;
  private server?: grpc.Server;
  private path?: string;
  private closing?: Promise<void>;

  constructor(options: UnixServerOptions) {
    this.o = options;
  }

  /** The absolute socket path, once listening. */
  get socketPath(): string | undefined {
    return this.path;
  }

  /** Binds (after prepareSocket's checks). Rejects with EDGETWIN_ERR_DMI_SOCKET(_IN_USE). */
  async start(): Promise<void> {
    const path = await prepareSocket(this.o.socketPath, this.o.what);
    const server = new grpc.Server();
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [method, fn] of Object.entries(this.o.handlers)) impl[method] = this.wrap(method, fn);
    server.addService(this.o.service, impl);
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(unixTarget(path), grpc.ServerCredentials.createInsecure(), (err) => {
        if (!err) return resolve();
        // Something bound it between the check and here.
        const inUse = /EADDRINUSE|in use/i.test(err.message);
        reject(edgetwinError(inUse ? 'EDGETWIN_ERR_DMI_SOCKET_IN_USE' : 'EDGETWIN_ERR_DMI_SOCKET', `${this.o.what} ${path}: ${err.message}`, [{ path, message: err.message }], err));
      });
    });
    this.server = server;
    this.path = path;
  }

  /** Stops accepting calls, lets running ones finish for a moment, then cuts them. Idempotent. */
  close(graceMs = 1000): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const server = this.server;
      if (!server) return resolve();
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.closing;
  }

  private wrap(method: string, fn: UnaryHandler): grpc.handleUnaryCall<unknown, object> {
    return (call, callback) => {
      const started = performance.now();
      const done = (code: string): void => this.o.onCall?.({ method, seconds: (performance.now() - started) / 1000, code });
      // A handler that throws before its first await rejects too: never a bare UNKNOWN.
      const answer = Promise.resolve(call.request).then((request) => (fn as (request: unknown) => Promise<object>)(request));
      answer.then(
        (response) => {
          done('');
          callback(null, response);
        },
        (err: unknown) => {
          const e = toEdgetwinError(err);
          if (!isEdgetwinError(err)) this.o.logger.error({ err, method }, 'DMI handler failed unexpectedly');
          else this.o.logger.debug({ method, code: e.code }, `DMI ${method} refused: ${formatError(e)}`);
          done(e.code);
          callback(toServiceError(e));
        },
      );
    };
  }
}
