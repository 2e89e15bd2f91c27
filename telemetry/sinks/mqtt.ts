// pushMethod.mqtt: each value published to `topic` on the broker at `address`, with the Device's
// `qos` and `retained`, in mapper-framework's text (kubeedge/mapper-framework
// _template/mapper/data/publish/mqtt/client.go): `time is <2006-01-02 15:04:05>  <topic>: <value>`.
// One connection per broker address and credentials, shared by every property that pushes there.
// QoS 1/2 resolve on the broker's PUBACK/PUBCOMP; QoS 0 once written to the socket (the broker
// never confirms it). At-least-once: the text format has no room for an idempotent key.

import mqtt, { type MqttClient } from 'mqtt';
import { edgetwinError } from '../../errors.js';
import type { Sink, SinkRecord } from '../sink.js';
import { abortable, goTime, sinkError, wireValue, type Credentials, Shared, type SinkTarget } from './common.js';

export interface MqttPushConfig {
  readonly address: string;
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly retained: boolean;
}

interface Conn {
  readonly client: MqttClient;
  lastError?: Error;
}

const brokers = new Shared<Conn>(async (c) => {
  await c.client.endAsync(true);
});

/** mapper-framework's payload for one value. */
export function mqttPayload(topic: string, record: SinkRecord): string {
  return `time is ${goTime(record.timestamp)}  ${topic}: ${wireValue(record.value)}`;
}

export function mqttSink(target: SinkTarget, cfg: MqttPushConfig, creds: Credentials): Sink {
  const name = `mqtt:${target.namespace}/${target.name}/${target.property}`;
  // tcp:// is mapper-framework's scheme (paho); mqtt.js takes it too.
  const key = `${cfg.address}\u0000${creds.username ?? ''}`;
  const { value: conn, release } = brokers.acquire(key, () => {
    const client = mqtt.connect(cfg.address, {
      clientId: `edgetwin-sink-${Math.random().toString(16).slice(2, 10)}`,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      queueQoSZero: false,
      ...(creds.username !== undefined ? { username: creds.username } : {}),
      ...(creds.password !== undefined ? { password: creds.password } : {}),
    });
    const c: Conn = { client };
    client.on('error', (err) => (c.lastError = err));
    client.on('connect', () => (c.lastError = undefined));
    return c;
  });
  return {
    name,
    async deliver(batch, signal) {
      const { client } = conn;
      if (!client.connected) {
        const err = conn.lastError;
        const auth = err && /Not authorized|Bad username or password/iu.test(err.message);
        throw edgetwinError(auth ? 'EDGETWIN_ERR_SINK_AUTH' : 'EDGETWIN_ERR_SINK_UNAVAILABLE', `${name}: not connected to ${cfg.address}${err ? `: ${err.message}` : ''}`);
      }
      try {
        // In order: each publish is handed to the client before the next (mqtt.js keeps order on one connection).
        const acks = batch.map((r) => client.publishAsync(cfg.topic, mqttPayload(cfg.topic, r), { qos: cfg.qos, retain: cfg.retained }));
        await abortable(Promise.all(acks), signal);
      } catch (err) {
        throw sinkError(err, name);
      }
    },
    close: release,
  };
}
