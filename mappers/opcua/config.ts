// The OPC UA mapper's configData vocabulary: JSON Schemas for `spec.protocol.configData` and
// `visitors.configData`, and their resolution into what the client uses.
//
// KubeEdge's keys (kubeedge/mappers-go mappers/opcua/configmap/type.go, ProtocolConfigOPCUA and
// VisitorConfigOPCUA): protocol `url`, `userName`, `password` (a file holding the password),
// `securityPolicy`, `securityMode`, `certificate`, `privateKey` (PEM files), `timeout`; visitor
// `nodeID`, `browseName`. edgetwin adds the visitor keys `monitored`, `samplingInterval` and
// `dataType` (docs/opcua.md). KubeEdge's `timeout` is taken as milliseconds, as the Modbus mapper's.
//
// Resolution is by hand, not by ajv, so the package needs nothing but edgetwin and node-opcua;
// bindDevice (edgetwin/sdk) checks the same schemas before connect() runs.

import { edgetwinError, type EdgetwinError } from 'edgetwin';
import { parseNodeId, type ParsedNodeId } from './nodeid.js';

/** KubeEdge's security policy names (gopcua's), and node-opcua's for the ones it spells apart. */
export const SECURITY_POLICIES = {
  None: 'None',
  Basic256Sha256: 'Basic256Sha256',
  Aes128Sha256RsaOaep: 'Aes128_Sha256_RsaOaep',
  Aes128_Sha256_RsaOaep: 'Aes128_Sha256_RsaOaep',
  Aes256Sha256RsaPss: 'Aes256_Sha256_RsaPss',
  Aes256_Sha256_RsaPss: 'Aes256_Sha256_RsaPss',
} as const;
export type SecurityPolicyName = (typeof SECURITY_POLICIES)[keyof typeof SECURITY_POLICIES];

/**
 * Deprecated by OPC 10000-7 and refused here: Basic128Rsa15 needs RSA PKCS#1 v1.5 decryption,
 * which Node 20 only allows under `--security-revert=CVE-2023-46809`; Basic256 uses SHA-1.
 */
const REFUSED_POLICIES: Readonly<Record<string, string>> = {
  Basic128Rsa15: 'Basic128Rsa15 is deprecated and needs RSA PKCS#1 v1.5, which Node refuses without --security-revert=CVE-2023-46809; use Basic256Sha256',
  Basic256: 'Basic256 is deprecated (SHA-1); use Basic256Sha256',
};

export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
export type SecurityModeName = (typeof SECURITY_MODES)[number];

/** OPC 10000-6 §5.1.2 built-in types a property can map to (`dataType` visitor key). */
export const OPCUA_DATA_TYPES = [
  'Boolean', 'SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64',
  'Float', 'Double', 'String', 'DateTime', 'ByteString', 'LocalizedText',
] as const;
export type OpcuaDataTypeName = (typeof OPCUA_DATA_TYPES)[number];

const millis = { anyOf: [{ type: 'integer', minimum: 1, maximum: 600_000 }, { type: 'string', pattern: '^[1-9][0-9]{0,5}$' }] } as const;
const path = { type: 'string', minLength: 1, maxLength: 4096 } as const;

export const PROTOCOL_CONFIG_SCHEMA = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    /** The server's endpoint URL, opc.tcp://host:port/path. */
    url: { type: 'string', pattern: '^opc\\.tcp://', maxLength: 2048 },
    userName: { type: 'string', minLength: 1, maxLength: 256 },
    /** A file holding the password (KubeEdge's semantics: a path, not the password itself). */
    password: path,
    securityPolicy: { enum: [...Object.keys(SECURITY_POLICIES), ...Object.keys(REFUSED_POLICIES)] },
    securityMode: { enum: SECURITY_MODES },
    /** The client's certificate and private key (PEM files); without them one is made in the PKI folder. */
    certificate: path,
    privateKey: path,
    /** Per request and for connecting, in ms. */
    timeout: millis,
  },
} as const;

export const VISITOR_CONFIG_SCHEMA = {
  type: 'object',
  required: ['nodeID'],
  additionalProperties: false,
  properties: {
    nodeID: { type: 'string', minLength: 1, maxLength: 4112 },
    /** KubeEdge's informational browse name; not used to resolve the node. */
    browseName: { type: 'string', maxLength: 512 },
    /** Report on change: a monitored item in a subscription pushes every new value. */
    monitored: { type: 'boolean' },
    /** The monitored item's sampling interval, in ms (the server may revise it). */
    samplingInterval: { type: 'integer', minimum: 0, maximum: 3_600_000 },
    /** The built-in type to write as; without it the node's current value's type is used. */
    dataType: { enum: OPCUA_DATA_TYPES },
  },
} as const;

export interface OpcuaProtocolConfig {
  readonly url: string;
  readonly userName?: string;
  readonly password?: string;
  readonly securityPolicy?: string;
  readonly securityMode?: string;
  readonly certificate?: string;
  readonly privateKey?: string;
  readonly timeout?: number | string;
}

export interface OpcuaVisitorConfig {
  readonly nodeID: string;
  readonly browseName?: string;
  readonly monitored?: boolean;
  readonly samplingInterval?: number;
  readonly dataType?: OpcuaDataTypeName;
}

export const DEFAULT_TIMEOUT_MS = 5000;

export interface Endpoint {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The path after host:port, '' for none. */
  readonly resourcePath: string;
  readonly securityPolicy: SecurityPolicyName;
  readonly securityMode: SecurityModeName;
  readonly userName?: string;
  readonly passwordFile?: string;
  readonly certificateFile?: string;
  readonly privateKeyFile?: string;
  readonly timeoutMs: number;
}

export interface OpcuaPoint {
  readonly nodeId: ParsedNodeId;
  readonly monitored: boolean;
  readonly samplingInterval: number;
  readonly dataType?: OpcuaDataTypeName;
}

function configError(where: string, message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `${where}: ${message}`, [{ path: where, message }]);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const PROTOCOL_KEYS = new Set(Object.keys(PROTOCOL_CONFIG_SCHEMA.properties));
const VISITOR_KEYS = new Set(Object.keys(VISITOR_CONFIG_SCHEMA.properties));

function optionalString(raw: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw configError(`${where}/${key}`, 'must be a non-empty string');
  return v;
}

/** Parses `opc.tcp://host:port/path`; the port defaults to 4840 (OPC 10000-6 §7.2 registers 4840). */
export function parseEndpointUrl(url: string, where = 'OPC UA protocol configData/url'): { host: string; port: number; resourcePath: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw configError(where, `"${url}" is not a URL (opc.tcp://host:port/path)`);
  }
  if (parsed.protocol !== 'opc.tcp:') throw configError(where, `"${url}" is not an opc.tcp:// URL (only the binary TCP transport is supported)`);
  if (parsed.hostname === '') throw configError(where, `"${url}" names no host`);
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '') {
    throw configError(where, `"${url}" carries credentials, a query or a fragment; use userName/password`);
  }
  const port = parsed.port === '' ? 4840 : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw configError(where, `"${url}" has no valid port`);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port, resourcePath: parsed.pathname === '/' ? '' : parsed.pathname };
}

/** The device's endpoint and security, or EDGETWIN_ERR_MAPPER_CONFIG naming the first problem. */
export function resolveProtocol(raw: unknown, deviceId: string): Endpoint {
  const where = `${deviceId}: OPC UA protocol configData`;
  if (!isRecord(raw)) throw configError(where, 'must be an object with at least `url`');
  for (const key of Object.keys(raw)) if (!PROTOCOL_KEYS.has(key)) throw configError(`${where}/${key}`, `unknown key (known: ${[...PROTOCOL_KEYS].join(', ')})`);
  const url = raw.url;
  if (typeof url !== 'string') throw configError(`${where}/url`, 'is required: the endpoint URL, e.g. opc.tcp://127.0.0.1:4840/UA/edgetwin');
  const { host, port, resourcePath } = parseEndpointUrl(url, `${where}/url`);

  const policyName = raw.securityPolicy ?? 'None';
  if (typeof policyName !== 'string') throw configError(`${where}/securityPolicy`, 'must be a string');
  const refused = REFUSED_POLICIES[policyName];
  if (refused) throw configError(`${where}/securityPolicy`, refused);
  if (!Object.hasOwn(SECURITY_POLICIES, policyName)) {
    throw configError(`${where}/securityPolicy`, `unknown policy "${policyName}" (supported: ${Object.keys(SECURITY_POLICIES).join(', ')})`);
  }
  const securityPolicy = SECURITY_POLICIES[policyName as keyof typeof SECURITY_POLICIES];
  const modeName = raw.securityMode ?? (securityPolicy === 'None' ? 'None' : 'SignAndEncrypt');
  if (typeof modeName !== 'string' || !(SECURITY_MODES as readonly string[]).includes(modeName)) {
    throw configError(`${where}/securityMode`, `unknown mode ${JSON.stringify(modeName)} (supported: ${SECURITY_MODES.join(', ')})`);
  }
  const securityMode = modeName as SecurityModeName;
  if ((securityPolicy === 'None') !== (securityMode === 'None')) {
    throw configError(`${where}/securityMode`, `securityMode ${securityMode} does not go with securityPolicy ${policyName}: None goes with None, a policy with Sign or SignAndEncrypt`);
  }

  const userName = optionalString(raw, 'userName', where);
  const passwordFile = optionalString(raw, 'password', where);
  if ((userName === undefined) !== (passwordFile === undefined)) throw configError(`${where}/userName`, 'userName and password (a file holding it) go together');
  const certificateFile = optionalString(raw, 'certificate', where);
  const privateKeyFile = optionalString(raw, 'privateKey', where);
  if ((certificateFile === undefined) !== (privateKeyFile === undefined)) throw configError(`${where}/certificate`, 'certificate and privateKey go together');

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (raw.timeout !== undefined) {
    const t = typeof raw.timeout === 'string' && /^[1-9]\d{0,5}$/.test(raw.timeout) ? Number(raw.timeout) : raw.timeout;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 600_000) throw configError(`${where}/timeout`, 'must be milliseconds, 1..600000');
    timeoutMs = t;
  }
  return {
    url,
    host,
    port,
    resourcePath,
    securityPolicy,
    securityMode,
    timeoutMs,
    ...(userName !== undefined ? { userName } : {}),
    ...(passwordFile !== undefined ? { passwordFile } : {}),
    ...(certificateFile !== undefined ? { certificateFile } : {}),
    ...(privateKeyFile !== undefined ? { privateKeyFile } : {}),
  };
}

/** One property's node, or EDGETWIN_ERR_MAPPER_CONFIG. */
export function resolveVisitor(raw: unknown, deviceId: string, property: string): OpcuaPoint {
  const where = `${deviceId}: property "${property}" OPC UA visitor configData`;
  if (!isRecord(raw)) throw configError(where, 'must be an object with `nodeID`');
  for (const key of Object.keys(raw)) if (!VISITOR_KEYS.has(key)) throw configError(`${where}/${key}`, `unknown key (known: ${[...VISITOR_KEYS].join(', ')})`);
  if (typeof raw.nodeID !== 'string') throw configError(`${where}/nodeID`, 'is required: the node, e.g. ns=2;s=Temperature');
  const nodeId = parseNodeId(raw.nodeID);
  if (typeof nodeId === 'string') throw configError(`${where}/nodeID`, `"${raw.nodeID.slice(0, 80)}" ${nodeId}`);
  if (raw.monitored !== undefined && typeof raw.monitored !== 'boolean') throw configError(`${where}/monitored`, 'must be true or false');
  const si = raw.samplingInterval;
  if (si !== undefined && (typeof si !== 'number' || !Number.isInteger(si) || si < 0 || si > 3_600_000)) throw configError(`${where}/samplingInterval`, 'must be milliseconds, 0..3600000');
  const dt = raw.dataType;
  if (dt !== undefined && !(OPCUA_DATA_TYPES as readonly unknown[]).includes(dt)) throw configError(`${where}/dataType`, `must be one of ${OPCUA_DATA_TYPES.join(', ')}`);
  return {
    nodeId,
    monitored: raw.monitored === true,
    samplingInterval: typeof si === 'number' ? si : 250,
    ...(dt !== undefined ? { dataType: dt as OpcuaDataTypeName } : {}),
  };
}
