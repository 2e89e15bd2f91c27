// From a device's properties (their checked `pushMethod`, schemas/push-method.ts) to the sinks
// that serve them: one sink per property and method, named `<method>:<ns>/<name>/<property>` (the
// outbox keys its backlog by the name, so it must not change across restarts). A destination's
// credentials are read here, once, from the files or environment variables the config names.

import { isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { DeviceInstance, DeviceModel } from '../../schemas/index.js';
import type { Sink } from '../sink.js';
import { readCredentials, type DestinationConfig, type SinkTarget } from './common.js';
import { httpSink, httpUrl } from './http.js';
import { influxSink } from './influxdb.js';
import { mqttSink } from './mqtt.js';
import { mysqlSink } from './mysql.js';
import { redisSink } from './redis.js';

export interface BuiltSink {
  readonly device: string;
  readonly property: string;
  readonly unit?: string;
  readonly sink: Sink;
  /** The property's reportCycle (ms; 0 or absent: 1 s, KubeEdge's meaning). */
  readonly intervalMs: number;
}

export type Destinations = { readonly [key: string]: DestinationConfig };

/** The `telemetry.sinks.destinations` key of one method's destination. */
export function destinationKey(method: 'mqtt' | 'http' | 'influxdb2' | 'redis' | 'mysql', address: string): string {
  return `${method}:${address}`;
}

/** Builds every sink `device` declares; a destination whose credentials cannot be read is a problem, the others are built. */
export function buildSinks(device: DeviceInstance, model: DeviceModel | undefined, destinations: Destinations = {}): { sinks: BuiltSink[]; problems: EdgetwinError[] } {
  const sinks: BuiltSink[] = [];
  const problems: EdgetwinError[] = [];
  for (const p of device.properties) {
    const push = p.pushMethod;
    if (!push) continue;
    const pm = model?.properties.get(p.name);
    const target: SinkTarget = { namespace: device.namespace, name: device.name, property: p.name, type: pm?.type ?? 'string' };
    const intervalMs = p.reportCycle !== undefined && p.reportCycle > 0 ? p.reportCycle : 1000;
    const add = (key: string, make: (d: DestinationConfig | undefined) => Sink): void => {
      try {
        const sink = make(destinations[key]);
        sinks.push({ device: device.id, property: p.name, ...(pm?.unit !== undefined ? { unit: pm.unit } : {}), sink, intervalMs });
      } catch (err) {
        problems.push(isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_SINK_CONFIG'));
      }
    };
    const where = (key: string): string => `${device.id} ${p.name} (${key})`;
    if (push.mqtt) {
      const cfg = push.mqtt;
      const key = destinationKey('mqtt', cfg.address);
      add(key, (d) => mqttSink(target, { address: cfg.address, topic: cfg.topic, qos: (cfg.qos ?? 0) as 0 | 1 | 2, retained: cfg.retained ?? false }, readCredentials(d, where(key))));
    }
    if (push.http) {
      const cfg = push.http;
      const key = destinationKey('http', httpUrl({ hostName: cfg.hostName, ...(cfg.port !== undefined ? { port: cfg.port } : {}) }));
      add(key, (d) => httpSink(target, cfg, readCredentials(d, where(key))));
    }
    const db = push.dbMethod;
    if (db?.influxdb2) {
      const cfg = db.influxdb2;
      const key = destinationKey('influxdb2', cfg.influxdb2ClientConfig.url);
      add(key, (d) => influxSink(target, cfg, readCredentials(d, where(key)), d?.influxApi ?? 'auto'));
    }
    if (db?.redis) {
      const cfg = db.redis;
      const key = destinationKey('redis', cfg.redisClientConfig.addr);
      add(key, (d) => redisSink(target, cfg, readCredentials(d, where(key))));
    }
    if (db?.mysql) {
      const cfg = db.mysql;
      const key = destinationKey('mysql', cfg.mysqlClientConfig.addr);
      add(key, (d) => mysqlSink(target, cfg, readCredentials(d, where(key))));
    }
  }
  return { sinks, problems };
}
