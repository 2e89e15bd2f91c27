// ClientLimiter on an injected clock: topic depth and the per-client token bucket.
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClientInfo, PublishAuthorizer, SubscribeAuthorizer } from './admission.js';
import { ClientLimiter, topicDepth } from './limits.js';

function rig(rate: number, burst: number, maxTopicDepth = 4): { limiter: ClientLimiter; publish: PublishAuthorizer; subscribe: SubscribeAuthorizer } {
  let publish: PublishAuthorizer | undefined;
  let subscribe: SubscribeAuthorizer | undefined;
  const limiter = new ClientLimiter({ maxTopicDepth, publishRatePerClient: rate, publishBurstPerClient: burst, logger: pino({ level: 'silent' }), now: () => Date.now() });
  limiter.install({
    addPublishAuthorizer: (a) => ((publish = a), () => undefined),
    addSubscribeAuthorizer: (a) => ((subscribe = a), () => undefined),
  });
  return { limiter, publish: publish!, subscribe: subscribe! };
}

const alice: ClientInfo = { clientId: 'alice' };
const bob: ClientInfo = { clientId: 'bob' };

afterEach(() => {
  vi.useRealTimers();
});

describe('ClientLimiter', () => {
  it('counts topic levels', () => {
    expect(topicDepth('a')).toBe(1);
    expect(topicDepth('$hw/events/device/ns/name/twin/update/result')).toBe(8);
    expect(topicDepth('a//b/')).toBe(4);
  });

  it('refuses topics and filters deeper than the limit, with a code', () => {
    const { publish, subscribe } = rig(100, 100, 4);
    expect(() => publish(alice, 'a/b/c/d')).not.toThrow();
    expect(() => publish(alice, 'a/b/c/d/e')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_LIMIT_TOPIC_DEPTH' }));
    expect(() => subscribe(alice, 'a/+/+/+/#')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_LIMIT_TOPIC_DEPTH' }));
  });

  it('lets a burst through, then admits one message per 1/rate, per client', async () => {
    vi.useFakeTimers({ now: 0 });
    const { limiter, publish } = rig(10, 3);
    for (let i = 0; i < 3; i++) expect(publish(alice, 't')).toBeUndefined();
    const fourth = publish(alice, 't');
    expect(fourth).toBeInstanceOf(Promise);
    expect(publish(bob, 't')).toBeUndefined(); // bob has his own bucket
    let admitted = false;
    void (fourth as Promise<void>).then(() => (admitted = true));
    await vi.advanceTimersByTimeAsync(99);
    expect(admitted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(admitted).toBe(true);
    // A fifth right away waits one more interval (the fourth took the token that refilled).
    const fifth = publish(alice, 't') as Promise<void>;
    let fifthIn = false;
    void fifth.then(() => (fifthIn = true));
    await vi.advanceTimersByTimeAsync(99);
    expect(fifthIn).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(fifthIn).toBe(true);
    expect(limiter.counters.throttled).toBe(2);
    // Idle time refills the bucket up to the burst, no further.
    await vi.advanceTimersByTimeAsync(10_000);
    for (let i = 0; i < 3; i++) expect(publish(alice, 't')).toBeUndefined();
    const throttled = publish(alice, 't');
    expect(throttled).toBeInstanceOf(Promise);
    limiter.close();
    await expect(throttled).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_CLOSED' });
  });

  it('on close refuses waiting and new publishes (no PUBACK for what will not be committed), leaving no timer', async () => {
    vi.useFakeTimers({ now: 0 });
    const { limiter, publish } = rig(1, 1);
    expect(publish(alice, 't')).toBeUndefined();
    const waiting = publish(alice, 't') as Promise<void>;
    expect(vi.getTimerCount()).toBe(1);
    limiter.close();
    await expect(waiting).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_CLOSED' });
    expect(vi.getTimerCount()).toBe(0);
    expect(() => publish(bob, 't')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_STORE_CLOSED' }));
  });
});
