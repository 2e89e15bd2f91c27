// A Device property's `pushMethod` (KubeEdge v1beta1 Device CRD, `spec.properties[].pushMethod`,
// reference/kubeedge-crds/devices_v1beta1_device.yaml): the keys are the CRD's, exactly. What
// edgetwin implements (mqtt, http, dbMethod influxdb2/redis/mysql) is checked here and handed to
// telemetry/sinks; what it does not (otel, dbMethod.TDEngine, anomalyDetection) and what KubeEdge
// does not know are coded warnings: the device still loads and its twin is served.

import type { FromSchema } from 'json-schema-to-ts';
import type { ErrorDetail } from '../errors.js';
import { ajvErrorsToDetails, createAjv, type ValidateFunction } from './ajv.js';

const str = { type: 'string', minLength: 1 } as const;
const count = { type: 'integer', minimum: 0 } as const;

export const PUSH_METHOD_SCHEMAS = {
  mqtt: {
    type: 'object',
    required: ['address', 'topic'],
    additionalProperties: false,
    properties: { address: str, topic: str, qos: { type: 'integer', minimum: 0, maximum: 2 }, retained: { type: 'boolean' } },
  },
  http: {
    type: 'object',
    required: ['hostName'],
    additionalProperties: false,
    properties: { hostName: str, port: { type: 'integer', minimum: 0, maximum: 65535 }, requestPath: { type: 'string' }, timeout: count },
  },
  influxdb2: {
    type: 'object',
    required: ['influxdb2ClientConfig'],
    additionalProperties: false,
    properties: {
      influxdb2ClientConfig: { type: 'object', required: ['url', 'bucket'], additionalProperties: false, properties: { url: { type: 'string', pattern: '^https?://' }, org: { type: 'string' }, bucket: str } },
      influxdb2DataConfig: {
        type: 'object',
        additionalProperties: false,
        properties: { measurement: str, tag: { type: 'object', additionalProperties: { type: 'string' } }, fieldKey: str },
      },
    },
  },
  redis: {
    type: 'object',
    required: ['redisClientConfig'],
    additionalProperties: false,
    properties: { redisClientConfig: { type: 'object', required: ['addr'], additionalProperties: false, properties: { addr: str, db: count, poolsize: count, minIdleConns: count } } },
  },
  mysql: {
    type: 'object',
    required: ['mysqlClientConfig'],
    additionalProperties: false,
    properties: { mysqlClientConfig: { type: 'object', required: ['addr', 'database'], additionalProperties: false, properties: { addr: str, database: str, userName: str } } },
  },
} as const;

export type MqttPush = FromSchema<typeof PUSH_METHOD_SCHEMAS.mqtt>;
export type HttpPush = FromSchema<typeof PUSH_METHOD_SCHEMAS.http>;
export type Influxdb2Push = FromSchema<typeof PUSH_METHOD_SCHEMAS.influxdb2>;
export type RedisPush = FromSchema<typeof PUSH_METHOD_SCHEMAS.redis>;
export type MysqlPush = FromSchema<typeof PUSH_METHOD_SCHEMAS.mysql>;

/** The push methods of one property that edgetwin will serve (each already checked). */
export interface PushMethod {
  readonly mqtt?: MqttPush;
  readonly http?: HttpPush;
  readonly dbMethod?: { readonly influxdb2?: Influxdb2Push; readonly redis?: RedisPush; readonly mysql?: MysqlPush };
}

type Method = keyof typeof PUSH_METHOD_SCHEMAS;
const validators = new Map<Method, ValidateFunction<unknown>>();
function validator(m: Method): ValidateFunction<unknown> {
  let v = validators.get(m);
  if (!v) validators.set(m, (v = createAjv({ allErrors: true }).compile(PUSH_METHOD_SCHEMAS[m])));
  return v;
}

const PUSH_KEYS = ['mqtt', 'http', 'otel', 'dbMethod', 'anomalyDetection'] as const;
const DB_KEYS = ['influxdb2', 'redis', 'mysql', 'TDEngine'] as const;

const OTEL_WHY =
  'pushMethod.otel is not supported: edgetwin sends OTLP through no exporter yet (the OpenTelemetry JS SDK records at collection time, which cannot carry each queued value with its own timestamp through the outbox); use mqtt, http or a dbMethod';

/**
 * Checks `pushMethod` of property `prop` (at JSON pointer `at`): returns what can be served, and a
 * coded warning for everything else (EDGETWIN_ERR_SINK_UNKNOWN, _UNSUPPORTED, _CONFIG).
 */
export function parsePushMethod(push: { readonly [k: string]: unknown }, prop: string, at: string): { method?: PushMethod; warnings: ErrorDetail[] } {
  const warnings: ErrorDetail[] = [];
  const out: { mqtt?: MqttPush; http?: HttpPush; dbMethod?: { influxdb2?: Influxdb2Push; redis?: RedisPush; mysql?: MysqlPush } } = {};
  const check = <T>(m: Method, value: unknown, where: string): T | undefined => {
    const v = validator(m);
    if (v(value)) return value as T;
    for (const d of ajvErrorsToDetails(v.errors)) warnings.push({ path: `${where}${d.path ?? ''}`, code: 'EDGETWIN_ERR_SINK_CONFIG', message: `property "${prop}": ${d.message}; nothing is pushed by this method` });
    return undefined;
  };
  for (const [key, value] of Object.entries(push)) {
    const where = `${at}/${key}`;
    if (!(PUSH_KEYS as readonly string[]).includes(key)) {
      warnings.push({ path: where, code: 'EDGETWIN_ERR_SINK_UNKNOWN', message: `property "${prop}": pushMethod.${key} is not a KubeEdge push method (${PUSH_KEYS.join(', ')})` });
    } else if (key === 'otel') {
      warnings.push({ path: where, code: 'EDGETWIN_ERR_SINK_UNSUPPORTED', message: `property "${prop}": ${OTEL_WHY}` });
    } else if (key === 'anomalyDetection') {
      warnings.push({ path: where, code: 'EDGETWIN_ERR_DEVICE_FIELD_UNSUPPORTED', message: `property "${prop}": pushMethod.anomalyDetection is not implemented` });
    } else if (key === 'mqtt') {
      const v = check<MqttPush>('mqtt', value, where);
      if (v) out.mqtt = v;
    } else if (key === 'http') {
      const v = check<HttpPush>('http', value, where);
      if (v) out.http = v;
    } else {
      const db = (value ?? {}) as { [k: string]: unknown };
      const dbOut: NonNullable<typeof out.dbMethod> = {};
      for (const [dbKey, dbValue] of Object.entries(typeof db === 'object' ? db : {})) {
        const w = `${where}/${dbKey}`;
        if (dbKey === 'TDEngine' || dbKey === 'tdengine') {
          warnings.push({ path: w, code: 'EDGETWIN_ERR_SINK_UNSUPPORTED', message: `property "${prop}": dbMethod.TDEngine is not supported (no TDengine client or server on this node); use influxdb2, redis or mysql` });
        } else if (dbKey === 'influxdb2' || dbKey === 'redis' || dbKey === 'mysql') {
          const v = check<never>(dbKey, dbValue, w);
          if (v) (dbOut as Record<string, unknown>)[dbKey] = v;
        } else {
          warnings.push({ path: w, code: 'EDGETWIN_ERR_SINK_UNKNOWN', message: `property "${prop}": dbMethod.${dbKey} is not a KubeEdge database method (${DB_KEYS.join(', ')})` });
        }
      }
      if (Object.keys(dbOut).length > 0) out.dbMethod = dbOut;
    }
  }
  return Object.keys(out).length > 0 ? { method: out, warnings } : { warnings };
}
