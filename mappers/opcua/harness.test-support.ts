// Test support for the OPC UA mapper: a test model and Device manifest, a free port, a TCP proxy
// that can go silent or drop its connections (the conformance suite's silence()/drop()), and a
// rig that starts node-opcua's own server on loopback. Imports edgetwin only through its entry points.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { compileModel, parseDeviceManifest, type DeviceInstance, type DeviceModel } from 'edgetwin';
import { startOpcuaServer, type OpcuaSimServer } from './simulator.js';
import { loadNodeOpcua } from './load.js';
import { ensureClientCertificate } from './pki.js';

export const quiet = pino({ level: 'silent' });
export const ctx = { logger: quiet, now: () => Date.now() };

export const OPCUA_TEST_MODEL_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:edgetwin:model:opcua-test-device',
  title: 'opcua-test-device',
  type: 'object',
  properties: {
    temperature: { type: 'number', minimum: -40, maximum: 125, readOnly: true },
    counter: { type: 'integer', minimum: 0, maximum: 1_000_000, readOnly: true },
    setpoint: { type: 'number', minimum: 5, maximum: 35 },
    level: { type: 'integer', minimum: 0, maximum: 65535 },
    mode: { type: 'string', enum: ['off', 'heat', 'cool'] },
    power: { type: 'boolean' },
    ratio: { type: 'number', minimum: 0, maximum: 1 },
    big: { type: 'integer', readOnly: true },
  },
  additionalProperties: false,
} as const;

export type Visitor = Record<string, unknown>;

export const OPCUA_TEST_VISITORS: Readonly<Record<string, Visitor>> = {
  temperature: { nodeID: 'ns=1;s=Device.Temperature', browseName: 'Temperature', monitored: true, samplingInterval: 50 },
  counter: { nodeID: 'ns=1;i=1001' },
  setpoint: { nodeID: 'ns=1;s=Device.Setpoint' },
  level: { nodeID: 'ns=1;s=Device.Level', dataType: 'UInt16' },
  mode: { nodeID: 'ns=1;s=Device.Mode' },
  power: { nodeID: 'ns=1;s=Device.Power' },
  ratio: { nodeID: 'ns=1;s=Device.Ratio', dataType: 'Float' },
  big: { nodeID: 'ns=1;s=Device.Big', dataType: 'Int64' },
};

export function opcuaTestModel(readOnly: readonly string[] = []): DeviceModel {
  const properties: Record<string, object> = { ...OPCUA_TEST_MODEL_SCHEMA.properties };
  for (const name of readOnly) properties[name] = { ...properties[name], readOnly: true };
  return compileModel({ ...OPCUA_TEST_MODEL_SCHEMA, properties }, 'opcua-test-device (fixture)');
}

export interface TestDeviceOptions {
  readonly name?: string;
  readonly protocol?: Visitor;
  readonly visitors?: Readonly<Record<string, Visitor>>;
  readonly desired?: Readonly<Record<string, string>>;
}

export function opcuaTestDevice(model: DeviceModel, url: string, o: TestDeviceOptions = {}): DeviceInstance {
  const visitors = { ...OPCUA_TEST_VISITORS, ...o.visitors };
  const manifest = {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name: o.name ?? 'opcua-test', namespace: 'default' },
    spec: {
      deviceModelRef: { name: model.name },
      protocol: { protocolName: 'opcua', configData: { url, timeout: 3000, ...o.protocol } },
      properties: Object.entries(visitors).map(([name, configData]) => ({
        name,
        ...(o.desired?.[name] !== undefined ? { desired: { value: o.desired[name] } } : {}),
        visitors: { protocolName: 'opcua', configData },
      })),
    },
  };
  return parseDeviceManifest(manifest, new Map([[model.name, model]]), 'opcua-test (fixture)');
}

/** A port nobody listens on right now (get-port style: bind 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Forwards 127.0.0.1:<port> to a target; can stop forwarding (silent) or reset every connection. */
export class TcpProxy {
  #server: Server | undefined;
  readonly #pairs = new Set<[Socket, Socket]>();
  #silent = false;
  port = 0;

  constructor(readonly targetPort: number) {}

  async start(): Promise<this> {
    this.#server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      this.#pairs.add(pair);
      const forward = (from: Socket, to: Socket): void => {
        from.on('data', (chunk) => {
          if (this.#silent) from.pause();
          to.write(chunk);
        });
      };
      // Paused sockets hold what arrives; a silent proxy pauses both sides after each chunk.
      forward(client, upstream);
      forward(upstream, client);
      const end = (): void => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      if (this.#silent) {
        client.pause();
        upstream.pause();
      }
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  silence(on: boolean): void {
    this.#silent = on;
    for (const [a, b] of this.#pairs) {
      if (on) {
        a.pause();
        b.pause();
      } else {
        a.resume();
        b.resume();
      }
    }
  }

  drop(): void {
    for (const [a, b] of this.#pairs) {
      a.resetAndDestroy();
      b.destroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}

export interface OpcuaRig {
  readonly model: DeviceModel;
  readonly device: DeviceInstance;
  readonly server: OpcuaSimServer;
  readonly proxy?: TcpProxy;
  readonly pkiDir: string;
  readonly deviceId: string;
  readonly url: string;
  readonly serverPort: number;
  close(): Promise<void>;
}

/**
 * node-opcua's server with the test device's variables on a free port. With `proxy`, the
 * device's url points at a TcpProxy in front of the server.
 */
export async function startOpcuaRig(o: { proxy?: boolean; device?: TestDeviceOptions; readOnlyOnServer?: readonly string[] } = {}): Promise<OpcuaRig> {
  const pkiDir = mkdtempSync(join(tmpdir(), 'edgetwin-opcua-test-'));
  const model = opcuaTestModel();
  // The server may hold some nodes read-only that the model lets apps write (a PLC's own rule).
  const serverModel = o.readOnlyOnServer?.length ? opcuaTestModel(o.readOnlyOnServer) : model;
  const serverPort = await freePort();
  const proxy = o.proxy ? await new TcpProxy(serverPort).start() : undefined;
  const url = `opc.tcp://127.0.0.1:${proxy?.port ?? serverPort}/UA/edgetwin`;
  const device = opcuaTestDevice(model, url, { desired: { setpoint: '21', mode: 'heat', power: 'true', level: '7', ratio: '0.5' }, ...o.device });
  const server = await startOpcuaServer(url, [{ instance: device, model: serverModel }], ctx, { pkiDir, port: serverPort });
  // The client certificate the tests' drivers use (`${pkiDir}/client`), made before any deadline runs.
  await ensureClientCertificate(await loadNodeOpcua(), join(pkiDir, 'client'));
  return {
    model,
    device,
    server,
    ...(proxy ? { proxy } : {}),
    pkiDir,
    url,
    serverPort,
    deviceId: `${device.namespace}/${device.name}`,
    async close() {
      await proxy?.close();
      await server.close();
      rmSync(pkiDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value (or throws on timeout): never a fixed sleep. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
