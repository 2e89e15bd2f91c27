// Loads dmi/api.proto once (proto-loader, keepCase so `api_version` stays snake case; int64 as
// JavaScript numbers: cycles are milliseconds) and the small typed helpers both sides share:
// unix-socket targets, unary calls with a deadline, and edgetwin's coded errors ⇄ gRPC status.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ERROR_CODES, EdgetwinError, edgetwinError, type ErrorCode } from '../errors.js';

/**
 * Where api.proto is. From source (dmi/proto.ts) it sits beside this file; from the compiled
 * dist/dmi/proto.js it does not (tsc copies no .proto), so go up to the package and back in.
 */
export function findProtoFile(moduleUrl: string = import.meta.url): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const candidates = [join(here, 'api.proto'), resolve(here, '..', '..', 'dmi', 'api.proto')];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

export const DMI_PROTO_FILE: string = findProtoFile();

export interface DmiServices {
  readonly manager: grpc.ServiceDefinition;
  readonly mapper: grpc.ServiceDefinition;
}

let services: DmiServices | undefined;

/** The two service definitions, loaded on first use (a process that never speaks DMI pays nothing). */
export function dmiServices(): DmiServices {
  if (!services) {
    const def = protoLoader.loadSync(DMI_PROTO_FILE, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    services = {
      manager: def['v1beta1.DeviceManagerService'] as grpc.ServiceDefinition,
      mapper: def['v1beta1.DeviceMapperService'] as grpc.ServiceDefinition,
    };
  }
  return services;
}

/** grpc-js's target for a unix socket path (absolute, so the process's cwd does not matter). */
export function unixTarget(socketPath: string): string {
  return `unix:${resolve(socketPath)}`;
}

/** Client options for a local socket: reconnect quickly (a restarted peer is back in ~1 s). */
export const LOCAL_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5000,
  // Nothing to resolve or balance on a socket path.
  'grpc.service_config_disable_resolution': 1,
  // Keep the connection (grpc-js drops an idle one after 30 min): both sides watch it to tell
  // when the peer went away, and a drop must mean that.
  'grpc.client_idle_timeout_ms': 2 ** 31 - 1,
};

/** One unary call with a deadline; resolves with the decoded response. Rejects with a grpc.ServiceError. */
export function callUnary<Res>(client: grpc.Client, service: grpc.ServiceDefinition, method: string, request: object, deadlineMs: number): Promise<Res> {
  const def = service[method];
  if (!def) return Promise.reject(new Error(`no DMI method ${method}`));
  return new Promise<Res>((resolvePromise, reject) => {
    client.makeUnaryRequest<object, Res>(
      def.path,
      def.requestSerialize as (value: object) => Buffer,
      def.responseDeserialize as (bytes: Buffer) => Res,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, value) => (err ? reject(err) : resolvePromise(value as Res)),
    );
  });
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'metadata' in err;
}

/** The trailer that carries edgetwin's error code beside the gRPC status. */
export const ERROR_CODE_TRAILER = 'edgetwin-error-code';

const STATUS_BY_CODE: Partial<Record<ErrorCode, grpc.status>> = {
  EDGETWIN_ERR_DMI_PROTOCOL_IN_PROCESS: grpc.status.FAILED_PRECONDITION,
  EDGETWIN_ERR_DMI_MODEL_UNKNOWN: grpc.status.FAILED_PRECONDITION,
  EDGETWIN_ERR_TWIN_VERSION_CONFLICT: grpc.status.ABORTED,
  EDGETWIN_ERR_STORE_CLOSED: grpc.status.UNAVAILABLE,
  EDGETWIN_ERR_MAPPER_CONFIG: grpc.status.INVALID_ARGUMENT,
  EDGETWIN_ERR_MODEL_UNKNOWN: grpc.status.FAILED_PRECONDITION,
  EDGETWIN_ERR_MANIFEST_INVALID: grpc.status.INVALID_ARGUMENT,
  EDGETWIN_ERR_DEVICEMODEL_INVALID: grpc.status.INVALID_ARGUMENT,
  EDGETWIN_ERR_MODEL_INVALID: grpc.status.INVALID_ARGUMENT,
};

const STATUS_BY_HTTP: Readonly<Record<number, grpc.status>> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  409: grpc.status.FAILED_PRECONDITION,
  429: grpc.status.RESOURCE_EXHAUSTED,
  503: grpc.status.UNAVAILABLE,
};

/** A coded error as a gRPC status: the code leads the message (mapper-framework logs only that). */
export function toServiceError(err: EdgetwinError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_TRAILER, err.code);
  const code = STATUS_BY_CODE[err.code] ?? STATUS_BY_HTTP[err.status] ?? grpc.status.INTERNAL;
  // The details, unless the message already says them (most coded messages list their problems).
  const unsaid = err.details.filter((d) => !err.message.includes(d.message));
  const details = unsaid.length > 0 ? ` (${unsaid.map((d) => `${d.path ?? ''}: ${d.message}`).join('; ')})` : '';
  return { code, details: `${err.code}: ${err.message}${details}`, metadata };
}

const RETRYABLE = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.CANCELLED]);

/** Worth retrying as it is: the peer is down, slow or busy, not refusing the request. */
export function isRetryable(err: unknown): boolean {
  return isServiceError(err) ? RETRYABLE.has(err.code) : false;
}

/** A failed call as a coded error: edgetwin's own code when the peer is edgetwin, else by status. */
export function fromServiceError(err: unknown, what: string): EdgetwinError {
  if (!isServiceError(err)) return err instanceof EdgetwinError ? err : edgetwinError('EDGETWIN_ERR_INTERNAL', `${what}: ${String(err)}`, [], err);
  const trailer = err.metadata?.get(ERROR_CODE_TRAILER)[0];
  const name = grpc.status[err.code] ?? String(err.code);
  if (typeof trailer === 'string' && trailer in ERROR_CODES) {
    return edgetwinError(trailer as ErrorCode, `${what}: ${err.details}`, [], err);
  }
  const code: ErrorCode = RETRYABLE.has(err.code) ? 'EDGETWIN_ERR_DMI_UNAVAILABLE' : 'EDGETWIN_ERR_DMI_CALL';
  return edgetwinError(code, `${what}: ${name}: ${err.details}`, [], err);
}

/** The gRPC status name of a call's outcome, for metrics ("OK", "UNAVAILABLE", …). */
export function statusName(err: unknown): string {
  if (err === undefined) return 'OK';
  return isServiceError(err) ? (grpc.status[err.code] ?? String(err.code)) : 'INTERNAL';
}
