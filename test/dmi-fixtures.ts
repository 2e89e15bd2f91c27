// DMI test peers in Node: a mapper-framework-like client of DeviceManagerService and a
// recording DeviceMapperService, both over real unix sockets and real gRPC (grpc-js). The
// Python peers in test/dmi-interop.test.ts are built from the .proto alone with another stack.

import { linkSync } from 'node:fs';
import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { callUnary, dmiServices, LOCAL_CHANNEL_OPTIONS, UnixGrpcServer, unixTarget, type PbDevice, type PbDeviceModel, type PbMapperRegisterResponse, type PbTwin } from '../dmi/index.js';
import { silentLogger } from '../edgecore/index.js';

export interface RecordedCall {
  readonly method: string;
  readonly request: Record<string, unknown>;
}

/** A DeviceMapperService that records every call and answers OK (or what `answer` says). */
export class RecordingMapper {
  readonly calls: RecordedCall[] = [];
  private waiters: Array<{ match: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }> = [];
  private server?: UnixGrpcServer;
  /** Overrides the answer of a method: throw (or reject) to refuse, return a response to answer, a promise to hold the call. */
  answer: (call: RecordedCall) => object | undefined | Promise<object | undefined> = () => undefined;
  /** What GetDevice answers with, per `<ns>/<name>` (undefined: an error, as mapper-framework for an unknown device). */
  readonly devices = new Map<string, PbDevice>();

  constructor(readonly socketPath: string) {}

  async start(): Promise<void> {
    const handlers: Record<string, (req: never) => Promise<object>> = {};
    for (const method of ['RegisterDevice', 'RemoveDevice', 'UpdateDevice', 'CreateDeviceModel', 'RemoveDeviceModel', 'UpdateDeviceModel', 'GetDevice']) {
      handlers[method] = (request: Record<string, unknown>) => this.handle(method, request);
    }
    this.server = new UnixGrpcServer({ socketPath: this.socketPath, what: 'the test mapper socket', service: dmiServices().mapper, handlers, logger: silentLogger() });
    await this.server.start();
  }

  async stop(): Promise<void> {
    await this.server?.close(100);
    this.server = undefined;
  }

  /** The first call (already made, or future) that matches. */
  next(match: (c: RecordedCall) => boolean, timeoutMs = 10_000, from = 0): Promise<RecordedCall> {
    const earlier = this.calls.slice(from).find(match);
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching DMI call within ${timeoutMs} ms; calls: ${this.calls.map((c) => c.method).join(', ')}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
    });
  }

  private async handle(method: string, request: Record<string, unknown>): Promise<object> {
    const call = { method, request };
    this.calls.push(call);
    const ready = this.waiters.filter((w) => w.match(call));
    this.waiters = this.waiters.filter((w) => !w.match(call));
    for (const w of ready) w.resolve(call);
    const custom = await this.answer(call);
    if (custom) return custom;
    if (method === 'GetDevice') {
      const device = this.devices.get(`${String(request.deviceNamespace)}/${String(request.deviceName)}`);
      if (!device) throw new Error('device not found');
      return { device };
    }
    if (method === 'RegisterDevice') return { deviceName: (request.device as PbDevice).name };
    if (method === 'CreateDeviceModel') return { deviceModelName: (request.model as PbDeviceModel).name };
    return {};
  }
}

/** A client of DeviceManagerService, as a mapper-framework mapper calls it. */
export class ManagerClient {
  private readonly client: grpc.Client;

  constructor(socketPath: string) {
    this.client = new grpc.Client(unixTarget(socketPath), grpc.credentials.createInsecure(), LOCAL_CHANNEL_OPTIONS);
  }

  register(protocol: string, address: string, extra: { withData?: boolean; apiVersion?: string; name?: string } = {}): Promise<PbMapperRegisterResponse> {
    return callUnary(this.client, dmiServices().manager, 'MapperRegister', {
      withData: extra.withData ?? true,
      mapper: { name: extra.name ?? `${protocol}-mapper`, version: 'v1.13.0', api_version: extra.apiVersion ?? 'v1.0.0', protocol, address: Buffer.from(address), state: 'ok' },
    }, 1000);
  }

  /** mapper-framework's report: one twin, both TwinProperty messages, metadata type/timestamp. */
  report(namespace: string, name: string, twins: readonly PbTwin[]): Promise<object> {
    return callUnary(this.client, dmiServices().manager, 'ReportDeviceStatus', { deviceName: name, deviceNamespace: namespace, reportedDevice: { twins } }, 1000);
  }

  states(namespace: string, name: string, state: string): Promise<object> {
    return callUnary(this.client, dmiServices().manager, 'ReportDeviceStates', { deviceName: name, deviceNamespace: namespace, state }, 1000);
  }

  raw(method: string, request: object): Promise<object> {
    return callUnary(this.client, dmiServices().manager, method, request, 1000);
  }

  close(): void {
    this.client.close();
  }
}

/** A reported twin as mapper-framework builds it (mf:pkg/util/parse/type.go ConvMsgTwinToGrpc). */
export function twin(property: string, reported: string, observedDesired = ''): PbTwin {
  const metadata = { type: '', timestamp: '' };
  return { propertyName: property, reported: { value: reported, metadata }, observedDesired: { value: observedDesired, metadata } };
}

/** The gRPC status and message of a rejected call. */
export async function refusal(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
  throw new Error('the call was not refused');
}

/** A socket file nobody listens on, as a process killed with SIGKILL leaves it behind. */
export async function leaveStaleSocket(socketPath: string): Promise<void> {
  const server = createServer();
  const tmp = `${socketPath}.tmp`;
  await new Promise<void>((resolve) => server.listen(tmp, resolve));
  // A second name for the socket inode survives the close, which unlinks the first.
  linkSync(tmp, socketPath);
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export { grpc };
