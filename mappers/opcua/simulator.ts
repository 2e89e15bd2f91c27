// A simulated OPC UA device: node-opcua's own server (a peer edgetwin did not write) with an
// address space built from the Device manifests and their models — one variable per property at
// its visitor's nodeID, writable unless the model says readOnly, of the visitor's dataType (else
// Int32 / Double / Boolean / String / ByteString by the property's type). Devices that name the
// same endpoint URL share one server. Read-only numbers drift for the demo when `animateMs` is set.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { edgetwinError, type DeviceInstance, type PropertyValue } from 'edgetwin';
import type { MapperContext, ProtocolSimulator, SimulatedDeviceInput, SimulatedDevices } from 'edgetwin/sdk';
import { builtinId, builtinName, decodeValue, defaultBuiltin, encodeValue, type RawVariant } from './codec.js';
import { parseEndpointUrl, resolveVisitor } from './config.js';
import { loadNodeOpcua, type NodeOpcua } from './load.js';
import { certificateManager, defaultPkiDir } from './pki.js';

type Server = InstanceType<NodeOpcua['OPCUAServer']>;
type Variable = ReturnType<ReturnType<NonNullable<Server['engine']['addressSpace']>['getOwnNamespace']>['addVariable']>;

export interface OpcuaSimulatorOptions {
  /** Folder for the servers' PKI (default: a per-user temp folder, never ~/.config). */
  readonly pkiDir?: string;
  /** Read-only numeric properties change every `animateMs` (0 or absent: they keep their value). */
  readonly animateMs?: number;
  /** Listen on this port instead of the URL's (tests put a proxy on the URL's port). */
  readonly port?: number;
}

interface SimVariable {
  readonly variable: Variable;
  readonly dataType: number;
  readonly type: SimulatedDeviceInput['model']['properties'] extends ReadonlyMap<string, infer M> ? M : never;
}

/** A running server: what it serves, its variables, and the Read requests it has answered. */
export interface OpcuaSimServer extends SimulatedDevices {
  readonly endpointUrl: string;
  readonly port: number;
  /**
   * Read service requests that named at least one served variable, as the number of nodes each
   * asked for: a batch read of eight properties adds one entry, 8. (The client's own keep-alive
   * reads of the Server object are not counted.)
   */
  readonly reads: readonly number[];
  /** Sets a property's value on the server side (as the physical world would). */
  set(deviceId: string, property: string, value: PropertyValue): void;
  /** The property's current value, decoded to its type. */
  get(deviceId: string, property: string): PropertyValue;
}

function simError(message: string): Error {
  return edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `OPC UA simulator: ${message}`);
}

const id = (i: DeviceInstance): string => `${i.namespace}/${i.name}`;

function initialValue(model: SimVariable['type'], desired: string | undefined): PropertyValue {
  if (desired !== undefined) {
    const parsed = model.parse(desired);
    if (parsed.ok) return parsed.value;
  }
  const schema = model.schema as { default?: unknown; enum?: unknown[] };
  if (typeof schema.default === 'string' || typeof schema.default === 'number' || typeof schema.default === 'boolean') {
    const parsed = model.parse(String(schema.default));
    if (parsed.ok) return parsed.value;
  }
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return String(schema.enum[0]);
  switch (model.type) {
    case 'boolean': return false;
    case 'string': return '';
    case 'bytes': return new Uint8Array(0);
    default: return model.minimum !== undefined && model.maximum !== undefined ? (model.minimum + model.maximum) / 2 : (model.minimum ?? 0);
  }
}

/** Starts one server per endpoint URL named by `devices`; every property becomes a variable. */
export async function startOpcuaServers(devices: readonly SimulatedDeviceInput[], ctx: MapperContext, o: OpcuaSimulatorOptions = {}): Promise<OpcuaSimServer[]> {
  const byUrl = new Map<string, SimulatedDeviceInput[]>();
  for (const d of devices) {
    const url = (d.instance.protocol?.configData as { url?: unknown } | undefined)?.url;
    if (typeof url !== 'string') throw simError(`${id(d.instance)} has no protocol configData url`);
    const list = byUrl.get(url) ?? [];
    list.push(d);
    byUrl.set(url, list);
  }
  const servers: OpcuaSimServer[] = [];
  try {
    for (const [url, list] of byUrl) servers.push(await startOpcuaServer(url, list, ctx, o));
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  return servers;
}

export async function startOpcuaServer(url: string, devices: readonly SimulatedDeviceInput[], ctx: MapperContext, o: OpcuaSimulatorOptions = {}): Promise<OpcuaSimServer> {
  const { host, port: urlPort, resourcePath } = parseEndpointUrl(url, 'simulated device url');
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') throw simError(`${url}: a simulated device serves on loopback only (127.0.0.1)`);
  const port = o.port ?? urlPort;
  const ua = await loadNodeOpcua();
  const pkiDir = join(o.pkiDir ?? defaultPkiDir(), 'server');
  mkdirSync(pkiDir, { recursive: true });
  const reads: number[] = [];
  const served = new Set<string>();
  // Devices with userName/password (a file, as for the mapper) make those users valid here.
  const users = new Map<string, string>();
  for (const d of devices) {
    const c = d.instance.protocol?.configData as { userName?: unknown; password?: unknown } | undefined;
    if (typeof c?.userName !== 'string' || typeof c.password !== 'string') continue;
    try {
      users.set(c.userName, readFileSync(c.password, 'utf8').replace(/\r?\n$/, ''));
    } catch (err) {
      throw simError(`${id(d.instance)}: password file ${c.password} cannot be read: ${(err as Error).message}`);
    }
  }
  const server = new ua.OPCUAServer({
    port,
    host: host === 'localhost' ? '127.0.0.1' : host,
    hostname: host === 'localhost' ? '127.0.0.1' : host,
    resourcePath,
    serverCertificateManager: await certificateManager(ua, pkiDir),
    // Else node-opcua puts the user-certificate store in ~/.config/node-opcua-default-nodejs/UserPKI.
    userCertificateManager: await certificateManager(ua, `${pkiDir}-users`),
    securityPolicies: [ua.SecurityPolicy.None, ua.SecurityPolicy.Basic256Sha256, ua.SecurityPolicy.Aes128_Sha256_RsaOaep, ua.SecurityPolicy.Aes256_Sha256_RsaPss],
    securityModes: [ua.MessageSecurityMode.None, ua.MessageSecurityMode.Sign, ua.MessageSecurityMode.SignAndEncrypt],
    allowAnonymous: true,
    ...(users.size > 0 ? { userManager: { isValidUser: (userName: string, password: string) => users.get(userName) === password } } : {}),
    buildInfo: { productName: 'edgetwin OPC UA simulator' },
  });
  server.on('request', (request: { schema?: { name?: string }; nodesToRead?: readonly { nodeId?: { toString(): string } }[] }) => {
    if (request.schema?.name !== 'ReadRequest' || !request.nodesToRead) return;
    if (request.nodesToRead.some((n) => served.has(String(n.nodeId)))) reads.push(request.nodesToRead.length);
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  if (!addressSpace) throw simError('node-opcua gave no address space');
  const own = addressSpace.getOwnNamespace();
  const vars = new Map<string, Map<string, SimVariable>>();
  const timers: NodeJS.Timeout[] = [];

  for (const d of devices) {
    const deviceId = id(d.instance);
    const folder = own.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: d.instance.name });
    const map = new Map<string, SimVariable>();
    vars.set(deviceId, map);
    for (const p of d.instance.properties) {
      const model = d.model.properties.get(p.name);
      if (!model || !p.visitors) continue;
      const point = resolveVisitor(p.visitors.configData, deviceId, p.name);
      if (point.nodeId.namespace !== own.index) {
        throw simError(`${deviceId} property "${p.name}": nodeID ${point.nodeId.text} is not in the server's own namespace (ns=${own.index})`);
      }
      const dataType = point.dataType ? builtinId(point.dataType) : defaultBuiltin(model.type);
      const encoded = encodeValue(initialValue(model, p.desired?.value), dataType, point.nodeId.text);
      if (encoded instanceof Error) throw encoded;
      const access = model.readOnly ? 'CurrentRead' : 'CurrentRead | CurrentWrite';
      const variable = own.addVariable({
        componentOf: folder,
        browseName: p.name,
        nodeId: point.nodeId.text,
        dataType: builtinName(dataType),
        accessLevel: access,
        userAccessLevel: access,
        // W30 (dependencies.md §15.2): without it the server samples at 1000 ms.
        minimumSamplingInterval: 50,
      });
      served.add(variable.nodeId.toString());
      variable.setValueFromSource(new ua.Variant({ dataType, arrayType: ua.VariantArrayType.Scalar, value: encoded.value }));
      map.set(p.name, { variable, dataType, type: model });
      if (o.animateMs && model.readOnly && (model.type === 'int' || model.type === 'float' || model.type === 'double')) {
        timers.push(setInterval(() => drift(ua, map.get(p.name)!), o.animateMs).unref());
      }
    }
  }
  await server.start();
  const actualPort = (server.endpoints[0] as { port?: number } | undefined)?.port ?? port;
  const endpointUrl = server.getEndpointUrl();
  const variable = (deviceId: string, property: string): SimVariable => {
    const v = vars.get(deviceId)?.get(property);
    if (!v) throw simError(`no variable for ${deviceId} property "${property}"`);
    return v;
  };
  let closed = false;
  ctx.logger.info({ url: endpointUrl, devices: devices.map((d) => id(d.instance)) }, 'simulated OPC UA server listening');
  return {
    description: `opcua on ${endpointUrl} (${devices.map((d) => id(d.instance)).join(', ')})`,
    endpointUrl,
    port: actualPort,
    reads,
    set(deviceId, property, value) {
      const v = variable(deviceId, property);
      const encoded = encodeValue(value, v.dataType, property);
      if (encoded instanceof Error) throw encoded;
      v.variable.setValueFromSource(new ua.Variant({ dataType: v.dataType, arrayType: ua.VariantArrayType.Scalar, value: encoded.value }));
    },
    get(deviceId, property) {
      const v = variable(deviceId, property);
      const raw = v.variable.readValue().value as unknown as RawVariant;
      const decoded = decodeValue(raw, v.type.type, property);
      if (decoded instanceof Error) throw decoded;
      return decoded;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      await server.shutdown(0);
    },
  };
}

/** A bounded random walk inside the property's minimum..maximum. */
function drift(ua: NodeOpcua, v: SimVariable): void {
  const raw = v.variable.readValue().value as unknown as RawVariant;
  const current = decodeValue(raw, v.type.type, '');
  if (typeof current !== 'number') return;
  const lo = v.type.minimum ?? current - 10;
  const hi = v.type.maximum ?? current + 10;
  const step = (hi - lo) / 100;
  let next = Math.min(hi, Math.max(lo, current + (Math.random() - 0.5) * 2 * step));
  next = v.type.type === 'int' ? Math.round(next) : Math.round(next * 100) / 100;
  const encoded = encodeValue(next, v.dataType, '');
  if (!(encoded instanceof Error)) v.variable.setValueFromSource(new ua.Variant({ dataType: v.dataType, arrayType: ua.VariantArrayType.Scalar, value: encoded.value }));
}

/** The plugin's simulator: `simulate:` entries of protocol opcua and `edgetwin simulate opcua`. */
export function createOpcuaSimulator(o: OpcuaSimulatorOptions = { animateMs: 1000 }): ProtocolSimulator {
  return {
    async start(devices, ctx) {
      const servers = await startOpcuaServers(devices, ctx, o);
      return {
        description: servers.map((s) => s.description).join('; '),
        close: async () => {
          await Promise.all(servers.map((s) => s.close()));
        },
      };
    },
  };
}
