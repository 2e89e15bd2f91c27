// Every error that leaves edgetwin carries one of these codes. Codes are stable: never reuse or
// rename one; add a new code instead. docs/errors.md lists the same codes (errors.test.ts keeps
// the two in step). `status` is the KubeEdge-style numeric code used on MQTT results
// (400 bad request, 401 not authenticated, 403 not allowed, 404 unknown device, 409 conflict,
// 429 too many, 500 edge failure, 503 edge busy).

export const ERROR_CODES = {
  // Wire payloads (MQTT messages)
  EDGETWIN_ERR_PAYLOAD_JSON: { status: 400, summary: 'The payload is not valid JSON.' },
  EDGETWIN_ERR_PAYLOAD_ENCODING: { status: 400, summary: 'The payload is not valid UTF-8, or a JSON string in it escapes a lone UTF-16 surrogate (such as `\\ud800`), which UTF-8 cannot carry; nothing of it is applied.' },
  EDGETWIN_ERR_PAYLOAD_TOO_LARGE: { status: 400, summary: 'The payload exceeds the configured maximum size.' },
  EDGETWIN_ERR_PAYLOAD_TOO_DEEP: { status: 400, summary: 'The payload nests objects or arrays deeper than allowed.' },
  EDGETWIN_ERR_PAYLOAD_SHAPE: { status: 400, summary: 'The payload does not have the shape the topic requires (e.g. no `twin` object).' },
  EDGETWIN_ERR_TOPIC_INVALID: { status: 400, summary: 'The topic is not a valid KubeEdge device or node topic.' },
  EDGETWIN_ERR_DEVICE_ID_INVALID: { status: 400, summary: "A request's topic names a device id that is not `<namespace>/<name>` (a DNS-1123 label and subdomain): the pre-1.17 one-segment form, upper case, `_` or `%`, or too long. Answered on `$hw/events/device//twin/update/result`; nothing is applied." },
  // Twins
  EDGETWIN_ERR_DEVICE_NOT_FOUND: { status: 404, summary: 'No device with that `<namespace>/<name>` is bound to this node.' },
  EDGETWIN_ERR_PROPERTY_UNKNOWN: { status: 400, summary: "The twin names a property that the device's model does not declare." },
  EDGETWIN_ERR_PROPERTY_NAME: { status: 400, summary: 'A twin key is empty, too long or contains characters KubeEdge does not allow.' },
  EDGETWIN_ERR_VALUE_TYPE: { status: 400, summary: "A value cannot be parsed as the property's type." },
  EDGETWIN_ERR_MODEL_VALIDATION: { status: 400, summary: "A value parses but fails the property's JSON Schema (range, enum, pattern, length)." },
  EDGETWIN_ERR_PROPERTY_READ_ONLY: { status: 400, summary: 'A desired (expected) value was sent for a readOnly property.' },
  EDGETWIN_ERR_TYPE_MISMATCH: { status: 400, summary: "`metadata.type` in the message contradicts the property's type in the model." },
  EDGETWIN_ERR_TWIN_VERSION_CONFLICT: { status: 409, summary: "The update carried a `version` that is not the twin's current version." },
  EDGETWIN_ERR_STATE_INVALID: { status: 400, summary: 'The device state is not one of online, offline, ok, unknown, unhealthy.' },
  EDGETWIN_ERR_ACK_INVALID: { status: 400, summary: 'A desired-value ack is malformed or names a state other than applied, rejected, failed.' },
  // Store
  EDGETWIN_ERR_STORE_OPEN: { status: 500, summary: 'The SQLite store could not be opened or migrated.' },
  EDGETWIN_ERR_STORE_WRITE: { status: 500, summary: 'A change could not be committed to the store; nothing was applied.' },
  EDGETWIN_ERR_STORE_CLOSED: { status: 500, summary: 'The store is closed (edgetwin is shutting down).' },
  EDGETWIN_ERR_STORE_DAMAGED: { status: 500, summary: 'The store file of a data directory that has held a store is missing, empty or shorter than its header says (deleted, truncated, a failed copy or disk); edgetwin refuses to start with an empty store in its place. Restore it from a backup, or move it and `edgetwin.db.created` aside to start with no twins.' },
  // History (docs/telemetry.md)
  EDGETWIN_ERR_HISTORY_QUERY: { status: 400, summary: 'A history query is malformed: a time, range, step, property or kind that cannot be parsed or does not fit (e.g. `since` not before `until`); the message names the parameter and what is accepted.' },
  EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS: { status: 400, summary: 'A history query would return more points than `history.maxPoints`; the message says how many, and which step (or a shorter range) would fit.' },
  EDGETWIN_ERR_HISTORY_DISABLED: { status: 404, summary: 'No history is recorded for this device: `history.enabled` is false, or a `history.devices` / `history.models` entry turns it off.' },
  // Models, manifests, config
  EDGETWIN_ERR_FILE_READ: { status: 500, summary: 'A file or folder named in the configuration could not be read.' },
  EDGETWIN_ERR_MODEL_INVALID: { status: 500, summary: 'A device model file is not a valid edgetwin JSON Schema model.' },
  EDGETWIN_ERR_MODEL_DUPLICATE: { status: 500, summary: 'Two model files declare the same `title`.' },
  EDGETWIN_ERR_MODEL_UNKNOWN: { status: 500, summary: 'A Device manifest references a model (`deviceModelRef.name`) that is not loaded.' },
  EDGETWIN_ERR_MANIFEST_INVALID: { status: 500, summary: 'A Device manifest is not a valid KubeEdge v1beta1 Device.' },
  EDGETWIN_ERR_DEVICE_DUPLICATE: { status: 500, summary: 'Two manifests declare the same `<namespace>/<name>`.' },
  EDGETWIN_ERR_DEVICE_FIELD_UNSUPPORTED: { status: 500, summary: 'A warning, not a failure: a Device sets a field edgetwin does not implement yet (`pushMethod`, `dbMethod`, `anomalyDetection`, `methods`, `stateReport`); the device loads and is served, the field has no effect.' },
  EDGETWIN_ERR_CONFIG_INVALID: { status: 500, summary: 'The configuration file fails its JSON Schema; every error is listed.' },
  // Mappers
  EDGETWIN_ERR_MAPPER_CONFIG: { status: 500, summary: "A device's protocol or visitor configData is not valid for its mapper (unknown key, bad value, dataType that does not fit limit)." },
  EDGETWIN_ERR_VISITOR_KEY_UNKNOWN: { status: 500, summary: "A warning, not a failure: a property's `visitors.configData` has a key its mapper does not know (e.g. `max`, `min` in KubeEdge's Modbus example); it is ignored, as KubeEdge's Go mappers ignore it, and the device is mapped." },
  EDGETWIN_ERR_MAPPER_TIMEOUT: { status: 500, summary: 'The device did not answer a request within the configured timeout.' },
  EDGETWIN_ERR_MAPPER_CONNECTION: { status: 500, summary: 'The connection to the device could not be opened, or was refused, reset or closed.' },
  EDGETWIN_ERR_MAPPER_READBACK: { status: 500, summary: 'A desired value was written, but reading it back gave a different value.' },
  EDGETWIN_ERR_MAPPER_UNAVAILABLE: { status: 500, summary: 'The device is offline after repeated failures; the runtime keeps retrying with backoff.' },
  EDGETWIN_ERR_MAPPER_CONFLICT: { status: 409, summary: 'Two clients (mappers) report for one device: their readings and online/offline states overwrite each other. Run one mapper per device.' },
  EDGETWIN_ERR_MAPPER_ABORTED: { status: 500, summary: 'A device request was cancelled by its caller (shutdown or deadline) before it completed.' },
  EDGETWIN_ERR_MAPPER_UNKNOWN: { status: 500, summary: 'A protocol name (in `mappers.enabled`, `edgetwin mapper <name>` or `edgetwin simulate <name>`) is neither a bundled protocol nor one a loaded plugin provides; the message lists those available.' },
  EDGETWIN_ERR_PLUGIN_LOAD: { status: 500, summary: 'A mapper plugin (`mappers.plugins`, `edgetwin mapper --plugin`) could not be found or threw while it was imported; it is skipped and the node serves everything else.' },
  EDGETWIN_ERR_PLUGIN_INVALID: { status: 500, summary: 'A mapper plugin loaded, but its default export is not a ProtocolPlugin (`{ factory: { protocol, protocolConfigSchema, visitorConfigSchema, connect }, simulator?, description? }`), a schema of it does not compile, or its protocol name is taken; it is skipped.' },
  EDGETWIN_ERR_PROPERTY_NOT_WRITABLE: { status: 400, summary: 'The property is mapped to a read-only Modbus table (discrete inputs, input registers), so it cannot be written.' },
  EDGETWIN_ERR_MODBUS_EXCEPTION: { status: 500, summary: 'The Modbus device answered with an exception response; the message names the exception code.' },
  EDGETWIN_ERR_MODBUS_CRC: { status: 500, summary: 'A Modbus RTU response failed its CRC check.' },
  EDGETWIN_ERR_MODBUS_RESPONSE: { status: 500, summary: 'A Modbus response was malformed (wrong length, unit or function code).' },
  EDGETWIN_ERR_MODBUS_VALUE_RANGE: { status: 400, summary: "A value does not fit the register's dataType after scaling, or registers hold a value edgetwin cannot represent." },
  // Cloud sync
  EDGETWIN_ERR_CLOUD_KUBECONFIG: { status: 500, summary: 'The kubeconfig for cloud sync cannot be read, or names no usable cluster, context or user.' },
  EDGETWIN_ERR_CLOUD_UNREACHABLE: { status: 500, summary: 'The Kubernetes API server could not be reached (connection refused or reset, timeout, 429 or 5xx); cloud sync keeps retrying with backoff and queues status in its outbox.' },
  EDGETWIN_ERR_CLOUD_REQUEST: { status: 500, summary: "The Kubernetes API server rejected a request (e.g. 401, 403, 404, 422); the message names the verb, the object and the server's reason." },
  EDGETWIN_ERR_CLOUD_CONFLICT: { status: 409, summary: 'A write to the cluster still hit a resourceVersion conflict (409) after re-reading and retrying; it is retried on the next report cycle.' },
  EDGETWIN_ERR_CLOUD_OUTBOX: { status: 500, summary: 'The cloud sync outbox (its SQLite file in the data dir) could not be opened or written.' },
  EDGETWIN_ERR_DEVICEMODEL_INVALID: { status: 500, summary: 'A KubeEdge DeviceModel cannot be converted to an edgetwin JSON Schema model (shape, property type, minimum/maximum).' },
  // Bluetooth
  EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE: { status: 500, summary: 'No usable Bluetooth adapter: noble could not be loaded (no Bluetooth in the kernel, HCI socket binding not built, no permission) or the adapter is not powered on.' },
  EDGETWIN_ERR_BLE_NOT_FOUND: { status: 500, summary: 'The BLE device was not seen advertising (by `macAddress` or `localName`) within `scanTimeoutMs`.' },
  EDGETWIN_ERR_BLE_DISCONNECTED: { status: 500, summary: 'The BLE link dropped while a request was in flight; the driver reconnects on next use and re-enables its notifications.' },
  EDGETWIN_ERR_BLE_GATT: { status: 500, summary: 'The BLE device lacks the configured service or characteristic, the characteristic does not permit the operation (read, write, notify), or it answered with an ATT error.' },
  EDGETWIN_ERR_BLE_VALUE: { status: 400, summary: "A value cannot be encoded for its characteristic (no `dataWrite` entry, out of range for `dataType`), or the bytes read cannot be decoded (too short, not the model's type)." },
  EDGETWIN_ERR_OPCUA_STATUS: { status: 500, summary: 'The OPC UA server answered a read, write or monitored item with a Bad status code (e.g. BadNodeIdUnknown, BadTypeMismatch); the message names the status and the nodeID.' },
  EDGETWIN_ERR_OPCUA_VALUE: { status: 400, summary: "An OPC UA value does not fit the property's type (an array, a structure, an Int64 beyond 2^53, a string for a number), or a value cannot be encoded as the node's DataType." },
  // Security and limits
  EDGETWIN_ERR_AUTH_FAILED: { status: 401, summary: 'A client was refused at CONNECT: unknown user, wrong password, a client certificate that names no user, or anonymous access where it is not allowed (see docs/security.md).' },
  EDGETWIN_ERR_ACCESS_DENIED: { status: 403, summary: "The client's role does not allow this publish, subscription or twin change (a device outside its scope, a mapper setting a desired value, an app reporting an actual one)." },
  EDGETWIN_ERR_AUTH_CONFIG: { status: 500, summary: 'The `mqtt.auth` / `mqtt.tls` settings contradict each other (e.g. anonymous access off and no way to authenticate).' },
  EDGETWIN_ERR_CLIENT_ID_TAKEN: { status: 403, summary: "A CONNECT used a client id whose session belongs to another user (refused with CONNACK 2, identifier rejected): each user connects with client ids of its own; the same user may take its own connection over." },
  EDGETWIN_ERR_USERS_FILE: { status: 500, summary: 'The users file cannot be read or written, or is not valid (unknown role, malformed password hash, bad device id).' },
  EDGETWIN_ERR_TLS_CONFIG: { status: 500, summary: 'The TLS certificate, key or CA file cannot be read or does not form a usable TLS configuration.' },
  EDGETWIN_ERR_LIMIT_CONNECTIONS: { status: 503, summary: 'The broker already has `mqtt.limits.maxConnections` clients; the CONNECT is refused with "server unavailable".' },
  EDGETWIN_ERR_LIMIT_INFLIGHT: { status: 429, summary: 'A client had more than `mqtt.limits.maxInflightPerClient` messages awaiting acknowledgement; it is disconnected (as MQTT 5 does when Receive Maximum is exceeded).' },
  EDGETWIN_ERR_LIMIT_RATE: { status: 429, summary: "A client publishes faster than `mqtt.limits.publishRatePerClient`; its messages are slowed down (admitted in order as its budget refills), not dropped." },
  EDGETWIN_ERR_LIMIT_TOPIC_DEPTH: { status: 400, summary: 'A topic or filter has more levels than `mqtt.limits.maxTopicDepth`; the publish is refused (disconnect) or the subscription granted 128.' },
  EDGETWIN_ERR_LIMIT_TWINS: { status: 400, summary: 'A twin update names more properties than `mqtt.limits.maxTwinsPerMessage`; nothing of it is applied.' },
  EDGETWIN_ERR_LIMIT_PROPERTIES: { status: 500, summary: "A device's model has more properties than `mqtt.limits.maxPropertiesPerDevice`; the device is not bound." },
  EDGETWIN_ERR_LIMIT_DEVICES: { status: 500, summary: 'Binding the device would exceed `mqtt.limits.maxDevices` on this node; the device is not bound (those already bound stay).' },
  // Hostile clients (docs/security.md, "Hostile clients")
  EDGETWIN_ERR_PACKET_TOO_LARGE: { status: 400, summary: 'A client announced an MQTT packet larger than its limit (`mqtt.maxPacketBytes`, `mqtt.limits.maxConnectBytes` for a CONNECT, the payload limit for a PUBLISH); the connection is dropped before the packet is read.' },
  EDGETWIN_ERR_PROTOCOL_VIOLATION: { status: 400, summary: 'A client sent bytes that are not MQTT (a first packet that is not a CONNECT, a second CONNECT, a remaining length over four bytes); the connection is dropped.' },
  EDGETWIN_ERR_CONNECT_TIMEOUT: { status: 400, summary: 'A socket sent no complete CONNECT within `mqtt.limits.connectTimeoutMs`, or was the oldest of `mqtt.limits.maxConnections` such sockets when another arrived; it is closed.' },
  EDGETWIN_ERR_LIMIT_OUTGOING: { status: 429, summary: 'A client left more than `mqtt.limits.maxOutgoingBytesPerClient` unread (or over half of it for `mqtt.limits.outgoingStallMs`); it is disconnected. Before that, QoS 0 messages to it are dropped and counted.' },
  EDGETWIN_ERR_LIMIT_SUBSCRIPTIONS: { status: 429, summary: 'A client already holds `mqtt.limits.maxSubscriptionsPerClient` subscriptions; the new filter is granted 128 (failure) and the client stays connected.' },
  EDGETWIN_ERR_LIMIT_RETAINED: { status: 429, summary: 'Retaining the message would exceed `mqtt.limits.maxRetainedMessages` or `mqtt.limits.maxRetainedBytes`; the publish is refused (the connection is closed, nothing is applied, stored or forwarded). Clearing a retained topic (an empty payload) is always allowed.' },
  // DMI (KubeEdge's Device Management Interface over gRPC, docs/dmi.md)
  EDGETWIN_ERR_DMI_SOCKET: { status: 500, summary: 'A DMI socket path cannot be used: longer than 108 bytes (Linux would silently cut it), an existing file that is not a socket, or its folder cannot be created or bound.' },
  EDGETWIN_ERR_DMI_SOCKET_IN_USE: { status: 500, summary: 'Another process answers on the DMI socket; edgetwin replaces only a stale socket file, never a live one. Stop the other process or choose another path.' },
  EDGETWIN_ERR_DMI_REQUEST: { status: 400, summary: 'A DMI request lacks what it needs (a mapper, a protocol, a device name, twins, a reported value) or names a socket path edgetwin cannot use.' },
  EDGETWIN_ERR_DMI_VALUE: { status: 400, summary: 'A configData value cannot travel in google.protobuf.Any as KubeEdge packs it (a nested map or list for a KubeEdge mapper, null, a number float32 cannot carry), or an Any cannot be decoded; only that Device is refused.' },
  EDGETWIN_ERR_DMI_PROTOCOL_IN_PROCESS: { status: 409, summary: 'A DMI mapper registered a protocol edgetwin already runs in-process (`mappers.enabled`); remove it there so only one mapper drives those devices.' },
  EDGETWIN_ERR_DMI_MODEL_UNKNOWN: { status: 400, summary: 'A DMI Device names a DeviceModel the mapper was not given (send the model first: CreateDeviceModel, or MapperRegister with withData).' },
  EDGETWIN_ERR_DMI_PROTOCOL_MISMATCH: { status: 400, summary: "A DMI Device's `spec.protocol.protocolName` is not the protocol this mapper serves." },
  EDGETWIN_ERR_DMI_UNAVAILABLE: { status: 503, summary: 'A DMI peer (edgecore, edgetwin or a mapper) did not answer on its socket within the deadline, or its socket is missing; the call is retried with backoff.' },
  EDGETWIN_ERR_DMI_CALL: { status: 500, summary: 'A DMI peer answered a call with an error status; the message carries its gRPC status and text.' },
  EDGETWIN_ERR_DMI_REGISTRY: { status: 500, summary: 'The file of registered DMI mappers in the data dir (`dmi-mappers.json`) cannot be read or written.' },
  // Telemetry: Prometheus device values and remote write (docs/telemetry.md)
  EDGETWIN_ERR_METRICS_SERIES_LIMIT: { status: 503, summary: 'Device values as Prometheus metrics reached `telemetry.prometheus.maxSeries`: series past the limit are not exported (logged once, counted in `edgetwin_device_property_series_refused`); raise the limit or opt fewer devices in.' },
  EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE: { status: 503, summary: 'A Prometheus remote-write endpoint could not be reached, timed out, or answered 5xx or 429; the batch is kept and retried with backoff (remote-write 1.0 spec: 5xx is retried).' },
  EDGETWIN_ERR_REMOTE_WRITE_REFUSED: { status: 400, summary: 'A Prometheus remote-write endpoint refused a batch with a 4xx status (e.g. 400 `out of bounds` for samples older than it accepts, 401/403 for credentials); the remote-write 1.0 spec says not to retry it. The message carries the status and the answer.' },
  EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS: { status: 500, summary: 'The credentials of `telemetry.remoteWrite` (a `passwordFile`/`bearerTokenFile` or `passwordEnv`/`bearerTokenEnv`) cannot be read or are empty; remote write does not start.' },
  // Telemetry sinks and their outbox (docs/telemetry.md)
  EDGETWIN_ERR_SINK_UNKNOWN: { status: 400, summary: "A Device property's `pushMethod` (or `pushMethod.dbMethod`) names a method edgetwin does not know; KubeEdge knows `mqtt`, `http`, `otel` and `dbMethod.influxdb2|redis|mysql|TDEngine`. A warning: the device loads and its twin is served, nothing is pushed for that property." },
  EDGETWIN_ERR_SINK_UNSUPPORTED: { status: 400, summary: "A Device property's push method is a KubeEdge one edgetwin does not implement (`dbMethod.TDEngine`: no TDengine server or client here; `otel`: see docs/telemetry.md). A warning: the device loads, nothing is pushed for that property." },
  EDGETWIN_ERR_SINK_CONFIG: { status: 400, summary: "A Device property's push method has a bad setting (a missing `address`, a `qos` other than 0-2, a port out of range, an unreadable credentials file or unset environment variable named in `telemetry.sinks.destinations`). A warning: the device loads, nothing is pushed for that property." },
  EDGETWIN_ERR_SINK_UNAVAILABLE: { status: 503, summary: 'A sink (a pushMethod or dbMethod destination) could not be reached: connection refused, DNS failure, timeout. Its values wait in the telemetry outbox and are retried with backoff.' },
  EDGETWIN_ERR_SINK_AUTH: { status: 401, summary: "A sink refused edgetwin's credentials (wrong password or token in the file or environment variable named in `telemetry.sinks.destinations`). Values wait in the outbox and are retried with backoff; fix the credentials." },
  EDGETWIN_ERR_SINK_REFUSED: { status: 500, summary: 'A sink answered a write with an error (an HTTP 4xx/5xx, a database error such as a read-only replica or a missing privilege). Values wait in the outbox and are retried with backoff.' },
  EDGETWIN_ERR_OUTBOX_OPEN: { status: 500, summary: 'The telemetry outbox file (`telemetry-outbox.db` in the data dir) could not be opened or migrated; no sink runs.' },
  // Runtime
  EDGETWIN_ERR_BROKER_LISTEN: { status: 500, summary: 'The MQTT broker could not listen on the configured host and port.' },
  EDGETWIN_ERR_BROKER_CONNECT: { status: 500, summary: 'Could not connect to the MQTT broker.' },
  EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED: { status: 503, summary: 'The connection to the broker closed before it acknowledged a QoS 1 publish (the embedded broker does so when the twin could not commit the message, e.g. the disk is full); nothing is known to be applied, so publish it again (the mapper runtime does).' },
  EDGETWIN_ERR_DATA_DIR: { status: 500, summary: 'The data directory (`dataDir`, `--data-dir`) cannot be created or written: a path under /proc or /sys, a read-only or full file system, a file in the way, or no permission.' },
  EDGETWIN_ERR_DATA_DIR_LOCKED: { status: 500, summary: 'Another edgetwin process (its PID is named) already runs on this data directory; a second one would lose acknowledged changes, so it refuses to start. Stop the other process, or give this one its own `--data-dir`.' },
  EDGETWIN_ERR_METRICS_LISTEN: { status: 500, summary: 'The HTTP server (metrics, health, HTTP API) could not listen on `http.host`:`http.port` (e.g. the port is taken); edgetwin logs a warning and runs without it.' },
  EDGETWIN_ERR_HTTP_NOT_FOUND: { status: 404, summary: 'No HTTP endpoint has that path (docs/http-api.md lists them).' },
  EDGETWIN_ERR_HTTP_METHOD: { status: 405, summary: 'The HTTP endpoint does not answer that method; the `Allow` header lists those it does.' },
  EDGETWIN_ERR_HTTP_NOT_READY: { status: 503, summary: 'edgetwin is starting or stopping, so the HTTP API cannot answer yet; retry (or wait for `/readyz` to say ready).' },
  EDGETWIN_ERR_HTTP_REQUEST: { status: 400, summary: 'The HTTP request is malformed: a path segment that is not valid percent-encoding, or a query parameter the endpoint does not take (the message lists those it does).' },
  EDGETWIN_ERR_HTTP_CSRF: { status: 403, summary: 'A state-changing HTTP request with the console session cookie lacked the session\'s CSRF token (header `x-edgetwin-csrf`), or came from another origin (`Origin` differs from the server\'s); nothing was changed.' },
  EDGETWIN_ERR_HTTP_BODY: { status: 400, summary: 'The HTTP request body is not what the endpoint takes: not JSON, not `application/json`, too large, or the wrong shape (the message says which).' },
  EDGETWIN_ERR_TIMEOUT: { status: 500, summary: 'No answer arrived in time.' },
  EDGETWIN_ERR_CLI_USAGE: { status: 400, summary: 'The command line is malformed.' },
  EDGETWIN_ERR_STARTUP_PROBLEMS: { status: 500, summary: '`edgetwin check` found problems, or `edgetwin run --strict` (config `strict: true`) refused to start: a model, manifest or device configuration that a plain `run` would skip with a warning. Each problem is listed once with its own code.' },
  EDGETWIN_ERR_ACK_TIMEOUT: { status: 500, summary: '`twin set --wait`: a desired value was still `pending` when `--timeout` ran out; no mapper acknowledged it (is one serving the device? `edgetwin devices` shows its state).' },
  EDGETWIN_ERR_DESIRED_NOT_APPLIED: { status: 500, summary: '`twin set --wait`: the mapper acknowledged the desired value as `rejected` or `failed` without a code of its own, or another client replaced the value before it was applied.' },
  EDGETWIN_ERR_NEW_TARGET_EXISTS: { status: 409, summary: '`edgetwin new mapper`: the target folder (`--dir`, or `./edgetwin-mapper-<name>`) exists and is not empty; nothing was written. Name an empty or new folder.' },
  EDGETWIN_ERR_INTERNAL: { status: 500, summary: 'An unexpected internal error; please report it with the log.' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem inside a larger error, e.g. one failing property of a rejected update. */
export interface ErrorDetail {
  /** Where the problem is: a property name, a JSON pointer, a file path. */
  readonly path?: string;
  readonly code?: ErrorCode;
  readonly message: string;
}

/**
 * The one error type edgetwin throws. Branch on `code`, never on `message`.
 * Construct with {@link edgetwinError}.
 */
export class EdgetwinError extends Error {
  override readonly name = 'EdgetwinError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: readonly ErrorDetail[];

  constructor(code: ErrorCode, message: string, details: readonly ErrorDetail[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; status: number; message: string; details?: readonly ErrorDetail[] } {
    return {
      code: this.code,
      status: this.status,
      message: this.message,
      ...(this.details.length > 0 ? { details: this.details } : {}),
    };
  }
}

export function edgetwinError(
  code: ErrorCode,
  message: string,
  details: readonly ErrorDetail[] = [],
  cause?: unknown,
): EdgetwinError {
  return new EdgetwinError(code, message, details, cause === undefined ? undefined : { cause });
}

export function isEdgetwinError(err: unknown, code?: ErrorCode): err is EdgetwinError {
  return err instanceof EdgetwinError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into an EdgetwinError, keeping the original as `cause`. */
export function toEdgetwinError(err: unknown, fallback: ErrorCode = 'EDGETWIN_ERR_INTERNAL'): EdgetwinError {
  if (err instanceof EdgetwinError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EdgetwinError(fallback, message, [], { cause: err });
}

/**
 * A human-readable rendering, each problem said once. Most edgetwin messages end with every
 * detail joined (`Invalid configuration c.yaml (2 problems): /a must be x; /b is required`, the
 * form schemas/ajv.ts joinDetails writes): those are shown as the head and one line per detail.
 * Otherwise the message, then one line per detail it does not already name (path and sentence).
 */
export function formatError(err: EdgetwinError): string {
  const { code, message, details } = err;
  const joined = details.map((d) => `${d.path === '' ? '(root)' : (d.path ?? '')} ${d.message}`).join('; ');
  if (details.length > 1 && message.endsWith(`: ${joined}`)) {
    const head = message.slice(0, message.length - joined.length - 2);
    return [`${code}: ${head}:`, ...details.map((d) => `  - ${d.path === '' ? '(root)' : (d.path ?? '')} ${d.message}`)].join('\n');
  }
  const lines = [`${code}: ${message}`];
  for (const d of details) {
    const said = message.includes(d.message) && (d.path === undefined || d.path === '' || message.includes(d.path));
    if (!said) lines.push(`  - ${d.path ? `${d.path}: ` : ''}${d.message}`);
  }
  return lines.join('\n');
}
