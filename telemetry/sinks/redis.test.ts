import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePeer } from '../../test/peers.js';
import { startRedis } from '../../bench/sink-servers.js';
import { redisSink } from './redis.js';

const target = { namespace: 'default', name: 'x', property: 'p', type: 'float' };
const batch = [{ key: 'default/x/p/1', device: 'default/x', property: 'p', value: 1.5, timestamp: 1 }];

describe.skipIf(!requirePeer('redis'))('redis sink', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    redis = await startRedis({ password: 'right' });
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('a wrong password is EDGETWIN_ERR_SINK_AUTH', async () => {
    const s = redisSink(target, { redisClientConfig: { addr: `127.0.0.1:${redis.port}` } }, { password: 'wrong' });
    await expect(s.deliver(batch, AbortSignal.timeout(5000))).rejects.toMatchObject({ code: 'EDGETWIN_ERR_SINK_AUTH' });
    await s.close();
  });

  it('the right one stores the value, once however often it is delivered', async () => {
    const s = redisSink(target, { redisClientConfig: { addr: `127.0.0.1:${redis.port}` } }, { password: 'right' });
    await s.deliver(batch, AbortSignal.timeout(5000));
    await s.deliver(batch, AbortSignal.timeout(5000));
    await s.close();
  });
});
