// The edgetwin configuration file (YAML or JSON). One JSON Schema is the source of both the
// validation and the TypeScript types: RawConfig (as written, everything optional) and
// EdgetwinConfig (defaults applied, everything present) are FromSchema views of it.

import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { FromSchema } from 'json-schema-to-ts';
import { parseDocument } from 'yaml';
import { edgetwinError, type EdgetwinError, type ErrorDetail } from '../errors.js';
import { ajvErrorsToDetails, createAjv, joinDetails, type ValidateFunction } from './ajv.js';
import { DURATION_PATTERN, SIZE_PATTERN } from './durations.js';
import { isJsonFile, readTextFile } from './files.js';
import { DEVICE_ID, DNS1123_SUBDOMAIN } from './names.js';
import { PROMETHEUS_CONFIG, REMOTE_WRITE_CONFIG } from './config-prometheus.js';

const port = (defaultPort: number) => ({ type: 'integer', minimum: 0, maximum: 65535, default: defaultPort }) as const;
const host = { type: 'string', minLength: 1, default: '127.0.0.1' } as const;
// A protocol name (mappers/plugins.ts): a DNS-1123 label.
const PROTOCOL_NAME = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
const paths = { type: 'array', items: { type: 'string', minLength: 1 }, default: [] } as const;
// `7d`, `24h`, `90m`, `30s`, `500ms`, or ms as an integer (schemas/durations.ts).
// (One schema for both types, not anyOf, so a bad value gets one sentence, not three.)
const duration = { type: ['string', 'integer'], pattern: DURATION_PATTERN, minimum: 0 } as const;
// `256MiB`, `1GB`, or bytes as an integer.
const size = { type: ['string', 'integer'], pattern: SIZE_PATTERN, minimum: 0 } as const;
// What one device or model keeps differently from the history defaults.
const historyOverride = {
  type: 'object',
  additionalProperties: false,
  properties: { enabled: { type: 'boolean' }, maxAge: duration, maxBytes: size },
} as const;

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // The node's name in topics ($hw/events/node/<node>/...) and in Devices' spec.nodeName: a
    // Kubernetes node name.
    nodeName: { type: 'string', maxLength: 253, pattern: DNS1123_SUBDOMAIN, default: 'edge-node' },
    dataDir: { type: 'string', minLength: 1, default: './data' },
    /** Extra model files or folders, loaded after the bundled ones. */
    models: paths,
    bundledModels: { type: 'boolean', default: true },
    // Refuse to start when any model, manifest or device configuration has a problem (what
    // `edgetwin check` reports), instead of starting without what is broken.
    strict: { type: 'boolean', default: false },
    /** Device manifest files or folders. */
    devices: paths,
    // Reload models and manifests when their files change (as SIGHUP does): added, changed and
    // removed devices are bound and unbound live, with the same validation (edgecore/file-watch.ts).
    watch: { type: 'boolean', default: true },
    // `default: {}` on each section makes ajv create it, so its own defaults then apply.
    mqtt: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // embedded: edgetwin's own broker (host/port below); external: no broker here, the twin is a
        // client of `external.url` (mosquitto, as KubeEdge's default eventBus.mqttMode 2); both: the
        // embedded broker for local clients and the twin on the external one too
        // (docs/external-broker.md).
        mode: { type: 'string', enum: ['embedded', 'external', 'both'], default: 'embedded' },
        external: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            // mqtt://[user:password@]host:port (also mqtts://; tcp:// and ssl:// as KubeEdge writes them).
            url: { type: 'string', pattern: '^(mqtts?|tcp|ssl)://[^\\s/]+$', default: 'mqtt://127.0.0.1:1883' },
            // The persistent session's client id; default edgetwin-<nodeName>. Keep it stable:
            // the broker queues QoS 1 messages for it while edgetwin is down.
            clientId: { type: 'string', minLength: 1, maxLength: 65535 },
            // 4 = MQTT 3.1.1; 5 lets edgetwin set the broker's in-flight window (Receive Maximum).
            protocolVersion: { type: 'integer', enum: [4, 5], default: 4 },
            // Messages taken from the broker and not yet committed, at most.
            maxInflight: { type: 'integer', minimum: 1, maximum: 65535, default: 1000 },
            // Reconnect backoff (ms): doubled per failed attempt up to the cap, ±20 % jitter.
            reconnectBaseMs: { type: 'integer', minimum: 10, default: 1000 },
            reconnectMaxMs: { type: 'integer', minimum: 10, default: 30000 },
          },
        },
        host,
        port: port(1883),
        // The QoS of every answer the twin publishes (results, documents, deltas, membership).
        // 0 is what KubeEdge's internal broker uses (eventBus.mqttQOS); its default external
        // broker mode publishes at 1 (docs/reliability.md).
        answerQos: { type: 'integer', enum: [0, 1], default: 0 },
        // The largest twin payload parsed; a larger one is answered EDGETWIN_ERR_PAYLOAD_TOO_LARGE.
        maxPayloadBytes: { type: 'integer', minimum: 1, default: 262144 },
        // The largest MQTT packet (of any type) the broker accepts at all: a client sending
        // more is disconnected before the body is buffered (eventbus/frame-guard.ts). A PUBLISH
        // may also carry maxPayloadBytes plus the longest topic.
        maxPacketBytes: { type: 'integer', minimum: 1024, default: 1048576 },
        // Who may connect and as what (docs/security.md).
        auth: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            // The users file `edgetwin user add` writes (scrypt hashes, roles, devices).
            usersFile: { type: 'string', minLength: 1 },
            // Clients without credentials: `loopback` (this machine only), `any`, or `off`. No
            // schema default: it is `off` when a usersFile is set and `loopback` otherwise, so
            // `edgetwin run` with no config still starts with one command, and only locally.
            anonymous: { type: 'string', enum: ['off', 'loopback', 'any'] },
            anonymousRole: { type: 'string', enum: ['admin', 'writer', 'app'], default: 'admin' },
          },
        },
        // A TLS listener beside the plain one (which can then stay on 127.0.0.1 for local mappers).
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: {
            // Default: mqtt.host.
            host: { type: 'string', minLength: 1 },
            port: port(8883),
            cert: { type: 'string', minLength: 1 },
            key: { type: 'string', minLength: 1 },
            // The CA that issues client certificates (required unless clientCertificates is off).
            ca: { type: 'string', minLength: 1 },
            // A verified client certificate's subject CN names a user of the users file.
            clientCertificates: { type: 'string', enum: ['off', 'optional', 'required'], default: 'off' },
          },
        },
        // Each ends in a coded error, never an exit (docs/security.md, "Limits").
        limits: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            maxConnections: { type: 'integer', minimum: 1, default: 1000 },
            // Messages admitted and not yet acknowledged, per client (aedes's own QoS 2 cap is 1000).
            maxInflightPerClient: { type: 'integer', minimum: 1, default: 1000 },
            // Sustained messages per second per client, and the burst allowed above it.
            publishRatePerClient: { type: 'number', exclusiveMinimum: 0, default: 2000 },
            publishBurstPerClient: { type: 'integer', minimum: 1, default: 4000 },
            // KubeEdge's deepest topic has 8 levels; aedes caps at 100.
            maxTopicDepth: { type: 'integer', minimum: 8, maximum: 100, default: 32 },
            maxTwinsPerMessage: { type: 'integer', minimum: 1, default: 256 },
            maxPropertiesPerDevice: { type: 'integer', minimum: 1, default: 256 },
            maxDevices: { type: 'integer', minimum: 1, default: 10000 },
            // Hostile clients (docs/security.md): what one client can make the broker hold.
            // The CONNECT arrives before authentication, so it gets the smallest bound.
            maxConnectBytes: { type: 'integer', minimum: 1024, default: 65536 },
            connectTimeoutMs: { type: 'integer', minimum: 100, default: 5000 },
            // Unread bytes queued for one client; QoS 0 messages are dropped past half of it.
            maxOutgoingBytesPerClient: { type: 'integer', minimum: 65536, default: 4194304 },
            outgoingStallMs: { type: 'integer', minimum: 100, default: 30000 },
            // A mapper subscribes to 2 topics per device: 25,000 serves maxDevices with room.
            maxSubscriptionsPerClient: { type: 'integer', minimum: 1, default: 25000 },
            maxRetainedMessages: { type: 'integer', minimum: 0, default: 10000 },
            maxRetainedBytes: { type: 'integer', minimum: 0, default: 16777216 },
          },
        },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      // SQLite PRAGMA synchronous in WAL mode: NORMAL may lose the last commits on power loss,
      // FULL does not, at a cost per commit.
      properties: {
        synchronous: { type: 'string', enum: ['normal', 'full'], default: 'normal' },
        // Extra SQLite PRAGMAs for the twin store (devicetwin/store/sqlite.ts checks them), e.g.
        // cache_size, or max_page_count to cap the store's size on a disk it shares.
        pragmas: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }] }, default: {} },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
        // pretty: human lines (pino-pretty); json: one JSON object per line; auto: pretty when
        // stderr is a terminal, JSON otherwise (a supervisor or a pipe).
        format: { type: 'string', enum: ['pretty', 'json', 'auto'], default: 'auto' },
      },
    },
    // Protocol mappers run in this process for devices whose protocolName is listed here;
    // devices of other protocols are driven by outside mappers over MQTT (as in KubeEdge).
    mappers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Protocol names of the registry (mappers/registry.ts): a bundled one (modbus,
        // bluetooth) or one a plugin below provides. An unknown name is reported
        // (EDGETWIN_ERR_MAPPER_UNKNOWN) when plugins are loaded, not here: only then is the list known.
        enabled: { type: 'array', items: { type: 'string', pattern: PROTOCOL_NAME }, uniqueItems: true, default: ['modbus'] },
        // Mapper plugins (docs/writing-a-mapper.md): npm package names, resolved from this
        // file's folder up, or paths to a package folder or module. Their protocols run in this
        // process as bundled ones do; a plugin that fails to load is reported and skipped.
        plugins: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true, default: [] },
        // Deadline of one device request, in ms.
        timeoutMs: { type: 'integer', minimum: 10, default: 2000 },
        // Consecutive failed polls before a device is reported offline.
        offlineAfter: { type: 'integer', minimum: 1, default: 3 },
        // Period (ms) of the re-sync that retries desired values whose write failed
        // (docs/reliability.md, closed loop); they are also retried when the device is back online.
        resyncMs: { type: 'integer', minimum: 100, maximum: 86_400_000, default: 60_000 },
        // 'hci': the host's Bluetooth adapter; 'simulated': the simulated adapter (simulators/bluetooth),
        // which also serves every bluetooth device listed in `simulate`.
        bluetoothAdapter: { type: 'string', enum: ['hci', 'simulated'], default: 'hci' },
      },
    },
    // Devices (by <namespace>/<name>) to simulate in this process, for demos and tests: a Modbus
    // device gets a simulated slave on its manifest's ip:port (loopback only), a BLE device a
    // simulated peripheral on the simulated adapter.
    simulate: { type: 'array', items: { type: 'string', minLength: 3 }, uniqueItems: true, default: [] },
    // edgetwin's one HTTP server: /metrics, /healthz, /readyz and the HTTP API (docs/http-api.md).
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        host,
        port: port(9464),
        // The web console (docs/console.md) at `/` of this server; the HTTP API serves either way.
        console: { type: 'boolean', default: false },
      },
    },
    // The names http.* had before the HTTP API: still read, as aliases of http.enabled, http.host
    // and http.port (resolveConfig moves them there; an http.* key in the same layer wins).
    metrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { enabled: { type: 'boolean' }, host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 } },
    },
    // Value history on the node (docs/telemetry.md).
    history: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        retention: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { maxAge: { ...duration, default: '7d' }, maxBytes: { ...size, default: '256MiB' } },
        },
        // Raw entries older than minutesAfter become 1-minute buckets; those older than
        // hoursAfter become 1-hour buckets.
        downsample: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { minutesAfter: { ...duration, default: '24h' }, hoursAfter: { ...duration, default: '7d' } },
        },
        // The most points one query may return.
        maxPoints: { type: 'integer', minimum: 1, default: 100000 },
        // By `<namespace>/<name>` and by model name; a device's entry wins over its model's.
        devices: { type: 'object', propertyNames: { pattern: DEVICE_ID }, additionalProperties: historyOverride, default: {} },
        models: { type: 'object', propertyNames: { pattern: DNS1123_SUBDOMAIN }, additionalProperties: historyOverride, default: {} },
      },
    },
    // Telemetry (docs/telemetry.md). Each part owns its own sub-keys here.
    telemetry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // --- Prometheus: device values on /metrics, and remote write (telemetry/prometheus/, telemetry/remote-write/) ---
        prometheus: PROMETHEUS_CONFIG,
        remoteWrite: REMOTE_WRITE_CONFIG,
        // --- end of the Prometheus keys ---
        // ---- KubeEdge pushMethod/dbMethod sinks (telemetry/sinks/, telemetry/push.ts) ----
        sinks: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: true },
            // Keyed `<method>:<address as the Device writes it>` (`redis:127.0.0.1:6379`,
            // `mysql:db:3306`, `influxdb2:http://influx:8086`, `mqtt:tcp://b:1883`,
            // `http:http://h:8080`): secrets from files or environment variables, never the manifest.
            destinations: {
              type: 'object',
              default: {},
              additionalProperties: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  username: { type: 'string' },
                  usernameEnv: { type: 'string', minLength: 1 },
                  passwordFile: { type: 'string', minLength: 1 },
                  passwordEnv: { type: 'string', minLength: 1 },
                  tokenFile: { type: 'string', minLength: 1 },
                  tokenEnv: { type: 'string', minLength: 1 },
                  influxApi: { enum: ['auto', 'v2', 'v1'] },
                },
              },
            },
          },
        },
        // ---- The durable outbox every sink sits behind (telemetry/outbox/) ----
        outbox: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            // Per sink; past either bound the oldest queued values are dropped (and counted).
            maxRecords: { type: 'integer', minimum: 1, default: 100000 },
            maxBytes: { ...size, default: '16MiB' },
            batchSize: { type: 'integer', minimum: 1, maximum: 10000, default: 500 },
            deliveryTimeout: { ...duration, default: '10s' },
          },
        },
        // ---- end of pushMethod/dbMethod sinks ----
      },
    },
    // KubeEdge's Device Management Interface (docs/dmi.md): with a socket, edgetwin serves
    // DeviceManagerService there as edgecore does, for KubeEdge ≥ 1.15 mappers. KubeEdge's path
    // is /etc/kubeedge/dmi.sock. No socket: DMI is off.
    dmi: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        socket: { type: 'string', minLength: 1 },
        // Deadline of one call to a mapper (edgecore's is 10 s).
        callTimeoutMs: { type: 'integer', minimum: 100, default: 10000 },
        // After MapperRegister, how long a mapper may take to open its own socket before its
        // devices are marked offline (mapper-framework listens only after starting its devices).
        registerGraceMs: { type: 'integer', minimum: 0, default: 10000 },
      },
    },
    cloud: {
      type: 'object',
      additionalProperties: false,
      default: {},
      // No kubeconfig: cloud sync stays off. The other keys have no schema default (so an empty
      // section stays empty); cloudsync/options.ts applies them: context = the kubeconfig's
      // current one, every namespace, statusLayout devicestatus, statusSubresource false,
      // reportCycle 1000 ms, qps 50, burst 100, requestTimeout 10000 ms.
      properties: {
        kubeconfig: { type: 'string', minLength: 1 },
        context: { type: 'string', minLength: 1 },
        // Watch Devices and DeviceModels of this namespace only (RBAC with a Role, not a ClusterRole).
        namespace: { type: 'string', minLength: 1 },
        // Where status goes: KubeEdge ≥ 1.23 DeviceStatus objects, or Device.status (≤ 1.22).
        statusLayout: { type: 'string', enum: ['devicestatus', 'device'] },
        // KubeEdge's CRDs declare no status subresource: status is written on the object itself.
        statusSubresource: { type: 'boolean' },
        // At most one status write per device per reportCycle (ms).
        reportCycle: { type: 'integer', minimum: 10 },
        qps: { type: 'number', exclusiveMinimum: 0 },
        burst: { type: 'integer', minimum: 1 },
        requestTimeout: { type: 'integer', minimum: 100 },
      },
    },
  },
} as const;

/** The config as written in the file or given as overrides: every field optional. */
export type RawConfig = FromSchema<typeof CONFIG_SCHEMA, { keepDefaultedPropertiesOptional: true }>;
/** The config with every default applied: every field present except `cloud.kubeconfig`. */
export type EdgetwinConfig = FromSchema<typeof CONFIG_SCHEMA>;

interface ConfigValidators {
  /** Checks a file as written; adds nothing. */
  readonly raw: ValidateFunction<RawConfig>;
  /** Checks the merged config and fills in the defaults (mutates its input). */
  readonly withDefaults: ValidateFunction<EdgetwinConfig>;
}

let validators: ConfigValidators | undefined;

function getValidators(): ConfigValidators {
  validators ??= {
    // allowUnionTypes: durations and sizes are a string with a unit or a plain integer.
    raw: createAjv({ allErrors: true, allowUnionTypes: true }).compile<RawConfig>(CONFIG_SCHEMA),
    withDefaults: createAjv({ allErrors: true, useDefaults: true, allowUnionTypes: true }).compile<EdgetwinConfig>(CONFIG_SCHEMA),
  };
  return validators;
}

function configInvalid(where: string, details: readonly ErrorDetail[]): EdgetwinError {
  const count = details.length === 1 ? '1 problem' : `${details.length} problems`;
  return edgetwinError('EDGETWIN_ERR_CONFIG_INVALID', `Invalid configuration ${where} (${count}): ${joinDetails(details)}`, details);
}

function resolvePath(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

/** Makes the file's relative paths absolute, against the folder the file is in. */
function resolvePaths(raw: RawConfig, base: string): RawConfig {
  return {
    ...raw,
    ...(raw.dataDir !== undefined ? { dataDir: resolvePath(base, raw.dataDir) } : {}),
    ...(raw.models ? { models: raw.models.map((p) => resolvePath(base, p)) } : {}),
    ...(raw.devices ? { devices: raw.devices.map((p) => resolvePath(base, p)) } : {}),
    ...(raw.cloud?.kubeconfig !== undefined ? { cloud: { ...raw.cloud, kubeconfig: resolvePath(base, raw.cloud.kubeconfig) } } : {}),
    ...(raw.mqtt ? { mqtt: resolveMqttPaths(raw.mqtt, base) } : {}),
    ...(raw.dmi?.socket !== undefined ? { dmi: { ...raw.dmi, socket: resolvePath(base, raw.dmi.socket) } } : {}),
    ...(raw.mappers?.plugins ? { mappers: { ...raw.mappers, plugins: raw.mappers.plugins.map((p) => resolvePlugin(base, p)) } } : {}),
  };
}

/**
 * A plugin path against the file's folder; a package name to its folder under the first
 * `node_modules` from the file's folder up, as Node resolves a bare specifier
 * (https://nodejs.org/api/modules.html, "Loading from node_modules folders"). A package not
 * found there is left as named: the loader looks from the working directory and reports it.
 */
function resolvePlugin(base: string, spec: string): string {
  if (spec.startsWith('.') || isAbsolute(spec)) return resolvePath(base, spec);
  for (let dir = base; ; dir = dirname(dir)) {
    const candidate = resolve(dir, 'node_modules', spec);
    if (existsSync(resolve(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return spec;
  }
}

/** The users file and the TLS files of `mqtt`, against the config file's folder. */
function resolveMqttPaths(mqtt: NonNullable<RawConfig['mqtt']>, base: string): NonNullable<RawConfig['mqtt']> {
  const { auth, tls } = mqtt;
  return {
    ...mqtt,
    ...(auth?.usersFile !== undefined ? { auth: { ...auth, usersFile: resolvePath(base, auth.usersFile) } } : {}),
    ...(tls
      ? { tls: { ...tls, cert: resolvePath(base, tls.cert), key: resolvePath(base, tls.key), ...(tls.ca !== undefined ? { ca: resolvePath(base, tls.ca) } : {}) } }
      : {}),
  };
}

function parseConfigText(path: string, text: string): unknown {
  if (isJsonFile(path)) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw configInvalid(path, [{ path: '', message: `not valid JSON: ${message}` }]);
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw configInvalid(path, doc.errors.map((e) => ({ path: '', message: `not valid YAML: ${e.message}` })));
  }
  return doc.toJS() as unknown;
}

/**
 * Reads and validates a config file (YAML, or JSON for *.json). Relative paths in it (dataDir,
 * models, devices, cloud.kubeconfig) are resolved against the file's folder, so the config works
 * from any working directory. An empty file is an empty config. Throws EDGETWIN_ERR_FILE_READ
 * or EDGETWIN_ERR_CONFIG_INVALID (every problem in `details`).
 */
export function loadConfigFile(path: string): RawConfig {
  const raw = parseConfigText(path, readTextFile(path)) ?? {};
  const { raw: validate } = getValidators();
  if (!validate(raw)) throw configInvalid(path, ajvErrorsToDetails(validate.errors));
  return resolvePaths(raw, dirname(resolve(path)));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge of plain objects; arrays and scalars in `over` replace; `undefined` keeps `base`. */
function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return structuredClone(base);
  if (!isPlainObject(base) || !isPlainObject(over)) return structuredClone(over);
  const out: Record<string, unknown> = structuredClone(base);
  for (const [key, value] of Object.entries(over)) out[key] = merge(base[key], value);
  return out;
}

/**
 * The effective config: `overrides` (e.g. from the command line, same shape as the file) over
 * `raw`, then every default. Path values in `overrides` and defaults are used as given (relative to
 * the working directory). Neither argument is modified. Throws EDGETWIN_ERR_CONFIG_INVALID listing
 * every problem, e.g. a `--mqtt-port` out of range.
 */
export function resolveConfig(raw: RawConfig = {}, overrides: RawConfig = {}): EdgetwinConfig {
  // Checked as written first, so a problem is reported at the key the user wrote (metrics.port).
  const { raw: check, withDefaults: validate } = getValidators();
  const written = merge(raw, overrides) ?? {};
  if (!check(written)) throw configInvalid('(after overrides)', ajvErrorsToDetails(check.errors));
  // Each layer's metrics.* become its http.*, so an override's --metrics-port beats the file's http.port.
  const merged = merge(httpAliases(raw), httpAliases(overrides)) ?? {};
  if (!validate(merged)) throw configInvalid('(after overrides)', ajvErrorsToDetails(validate.errors));
  return merged;
}

/** Moves `metrics.{enabled,host,port}` to `http.*` where the layer does not set those itself. */
function httpAliases(layer: RawConfig): RawConfig {
  const { metrics, ...rest } = layer;
  if (metrics === undefined) return layer;
  return { ...rest, metrics: {}, http: { ...metrics, ...layer.http } };
}
