// dbMethod.redis: each value added to a sorted set, as mapper-framework does
// (kubeedge/mapper-framework _template/mapper/data/dbmethod/redis/client.go): key = the device's
// name, score = the timestamp (ms), member = the DataModel as JSON with Go's field names
// (DeviceName, PropertyName, Namespace, Value, Type, TimeStamp). A sorted set holds a member
// once, so a value delivered twice is stored once: the member is the idempotent key.
// The password comes from the destination's passwordFile/passwordEnv (mapper-framework: $PASSWORD).

import { createClient } from 'redis';
import { edgetwinError } from '../../errors.js';
import type { Sink, SinkRecord } from '../sink.js';
import { abortable, sinkError, wireValue, type Credentials, Shared, type SinkTarget } from './common.js';

export interface RedisPushConfig {
  readonly redisClientConfig: { readonly addr: string; readonly db?: number; readonly poolsize?: number; readonly minIdleConns?: number };
}

const AUTH_FAILURE = /WRONGPASS|NOAUTH|NOPERM/u;

function makeClient(addr: string, db: number | undefined, creds: Credentials) {
  return createClient({
    url: `redis://${addr}`,
    ...(db !== undefined ? { database: db } : {}),
    ...(creds.username !== undefined ? { username: creds.username } : {}),
    ...(creds.password !== undefined ? { password: creds.password } : {}),
    // Fail a command at once while disconnected: the outbox holds the values, not the client.
    disableOfflineQueue: true,
    // A refused password is not retried by the client (it would never connect): connect() rejects
    // with it and the outbox retries later, with its backoff.
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries: number, cause: Error) => (AUTH_FAILURE.test(cause.message) ? cause : Math.min(30_000, 250 * 2 ** Math.min(retries, 7))),
    },
  });
}
type Client = ReturnType<typeof makeClient>;

const clients = new Shared<{ client: Client; ready?: Promise<unknown> }>(async (c) => {
  if (c.client.isOpen) await c.client.close();
});

/** mapper-framework's member for one value. */
export function redisMember(target: SinkTarget, r: SinkRecord): string {
  return JSON.stringify({ DeviceName: target.name, PropertyName: target.property, Namespace: target.namespace, Value: wireValue(r.value), Type: target.type, TimeStamp: r.timestamp });
}

export function redisSink(target: SinkTarget, cfg: RedisPushConfig, creds: Credentials): Sink {
  const name = `redis:${target.namespace}/${target.name}/${target.property}`;
  const { addr, db } = cfg.redisClientConfig;
  const key = `${addr}\u0000${db ?? 0}\u0000${creds.username ?? ''}\u0000${creds.password ?? ''}`;
  const { value: conn, release } = clients.acquire(key, () => {
    const client = makeClient(addr, db, creds);
    client.on('error', () => {});
    return { client };
  });
  return {
    name,
    async deliver(batch, signal) {
      try {
        if (!conn.client.isOpen) {
          // A first connect that fails is retried by the outbox (a new connect each time).
          conn.ready ??= conn.client.connect().catch((err: unknown) => {
            conn.ready = undefined;
            throw err;
          });
          await abortable(conn.ready, signal);
        } else if (!conn.client.isReady) {
          throw edgetwinError('EDGETWIN_ERR_SINK_UNAVAILABLE', `${name}: reconnecting to ${addr}`);
        }
        await abortable(conn.client.zAdd(target.name, batch.map((r) => ({ score: r.timestamp, value: redisMember(target, r) }))), signal);
      } catch (err) {
        throw sinkError(err, name);
      }
    },
    close: release,
  };
}
