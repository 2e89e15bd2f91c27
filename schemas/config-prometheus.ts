// The config sections `telemetry.prometheus` (device values on /metrics) and
// `telemetry.remoteWrite` (Prometheus remote write), part of CONFIG_SCHEMA (config.ts);
// docs/telemetry.md describes every key.

import { DURATION_PATTERN } from './durations.js';
import { DEVICE_ID, DNS1123_SUBDOMAIN } from './names.js';

const duration = { type: ['string', 'integer'], pattern: DURATION_PATTERN, minimum: 0 } as const;
const optIn = { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' } } } as const;
// Prometheus's label names (https://prometheus.io/docs/concepts/data_model/); `__` is reserved.
const LABEL_NAME = '^(?!__)[a-zA-Z_][a-zA-Z0-9_]*$';
// A header name as RFC 9110 §5.1 has it (a token).
const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
const AUTHORIZATION = '^[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn]$';
const envName = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } as const;
const file = { type: 'string', minLength: 1 } as const;

export const PROMETHEUS_CONFIG = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    // Device values as edgetwin_device_property_value on /metrics, for the properties opted in.
    enabled: { type: 'boolean', default: true },
    // At most this many device-value series; past it new ones are not exported (a coded warning, once).
    maxSeries: { type: 'integer', minimum: 1, maximum: 10_000_000, default: 10_000 },
    // Properties marked reportToCloud: true in their Device manifest are exported.
    reportToCloud: { type: 'boolean', default: true },
    // Every numeric and boolean property of a device (by <namespace>/<name>) or of a model's devices.
    devices: { type: 'object', propertyNames: { pattern: DEVICE_ID }, additionalProperties: optIn, default: {} },
    models: { type: 'object', propertyNames: { pattern: DNS1123_SUBDOMAIN }, additionalProperties: optIn, default: {} },
  },
} as const;

export const REMOTE_WRITE_CONFIG = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    // No url: remote write is off. http(s) only, and no user:password@ in it (credentials go in `auth`).
    url: { type: 'string', pattern: '^https?://[^\\s/@]+(/\\S*)?$' },
    // How often edgetwin's own metrics are written (device values go as they are reported, through the outbox).
    interval: { ...duration, default: '30s' },
    // Deadline of one request.
    timeout: { ...duration, default: '10s' },
    // Extra headers (a tenant id, say); secrets go in `auth`, which reads them from a file or the environment.
    // An Authorization header would be a secret written inline: refused.
    headers: { type: 'object', propertyNames: { pattern: HEADER_NAME, not: { pattern: AUTHORIZATION } }, additionalProperties: { type: 'string' }, default: {} },
    // Added to every series written (Prometheus's external_labels); `node` defaults to nodeName.
    labels: { type: 'object', propertyNames: { pattern: LABEL_NAME }, additionalProperties: { type: 'string', minLength: 1 }, default: {} },
    // Write edgetwin's own metrics (a snapshot of /metrics without the device values) every interval.
    ownMetrics: { type: 'boolean', default: true },
    auth: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['username'],
          properties: { username: { type: 'string', minLength: 1 }, passwordFile: file, passwordEnv: envName },
          oneOf: [{ required: ['passwordFile'], properties: { passwordFile: file } }, { required: ['passwordEnv'], properties: { passwordEnv: envName } }],
        },
        {
          type: 'object',
          additionalProperties: false,
          properties: { bearerTokenFile: file, bearerTokenEnv: envName },
          oneOf: [{ required: ['bearerTokenFile'], properties: { bearerTokenFile: file } }, { required: ['bearerTokenEnv'], properties: { bearerTokenEnv: envName } }],
        },
      ],
    },
  },
} as const;
