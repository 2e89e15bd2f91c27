// Per-client limits the broker enforces in its authorizer hooks: topic depth and publish rate.
// (Connections and in-flight messages are counted by the broker itself, which owns sockets and
// acknowledgements; payload and packet size by the frame guard and the ingest handlers; twins
// per message, properties per device and devices per node by the twin module.)

import type { Logger } from 'pino';
import { edgetwinError } from '../errors.js';
import type { ClientInfo, PublishAuthorizer, SubscribeAuthorizer } from './admission.js';
import { clientSafeLogger, logSafe } from './log-fields.js';

export interface LimitableBus {
  addPublishAuthorizer(authorizer: PublishAuthorizer): () => void;
  addSubscribeAuthorizer(authorizer: SubscribeAuthorizer): () => void;
}

export interface ClientLimiterOptions {
  readonly maxTopicDepth: number;
  readonly publishRatePerClient: number;
  readonly publishBurstPerClient: number;
  readonly logger: Logger;
  /** Injectable clock (ms), for tests. */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
  /** Set while the client is being slowed down, so the episode is logged once. */
  throttled: boolean;
}

/** Levels of a topic or filter: one more than its slashes. */
export function topicDepth(topic: string): number {
  let n = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 47 /* / */) n++;
  return n;
}

/**
 * Topic depth (publish refused, subscription granted 128) and a token bucket per client. A
 * client over its rate is slowed down, not refused: its next message is admitted when the
 * bucket has refilled, and the messages behind it wait in order (the broker runs a client's
 * authorizers one message after another). One that keeps sending regardless piles up
 * unacknowledged messages until maxInflightPerClient disconnects it.
 */
export class ClientLimiter {
  readonly counters = { throttled: 0, tooDeep: 0 };
  private readonly opts: ClientLimiterOptions;
  private readonly now: () => number;
  private readonly buckets = new WeakMap<ClientInfo, Bucket>();
  private readonly waits = new Map<NodeJS.Timeout, (err?: Error) => void>();
  private closed = false;

  constructor(opts: ClientLimiterOptions) {
    this.opts = { ...opts, logger: clientSafeLogger(opts.logger) };
    this.now = opts.now ?? Date.now;
  }

  /** Adds the authorizers; returns the function that removes them. */
  install(bus: LimitableBus): () => void {
    const removers = [
      bus.addPublishAuthorizer((client, topic) => {
        this.checkDepth(client, topic);
        return this.take(client);
      }),
      bus.addSubscribeAuthorizer((client, filter) => this.checkDepth(client, filter)),
    ];
    return () => removers.forEach((remove) => remove());
  }

  /**
   * The node is stopping: from now on every publish from an MQTT client is refused (its
   * connection closed, so no PUBACK goes out for a change that will not be committed), and the
   * clients waiting on their rate are refused at once, leaving no timer behind.
   */
  close(): void {
    this.closed = true;
    for (const [timer, release] of this.waits) {
      clearTimeout(timer);
      release(stopping());
    }
    this.waits.clear();
  }

  private checkDepth(client: ClientInfo, topic: string): void {
    const depth = topicDepth(topic);
    if (depth <= this.opts.maxTopicDepth) return;
    this.counters.tooDeep++;
    throw edgetwinError(
      'EDGETWIN_ERR_LIMIT_TOPIC_DEPTH',
      `${logSafe(client.clientId)}: ${depth} topic levels exceed mqtt.limits.maxTopicDepth (${this.opts.maxTopicDepth})`,
    );
  }

  /** Takes one token; resolves when the client may go on (at once when the bucket has one). */
  private take(client: ClientInfo): void | Promise<void> {
    const { publishRatePerClient: rate, publishBurstPerClient: burst } = this.opts;
    if (this.closed) throw stopping();
    const now = this.now();
    let bucket = this.buckets.get(client);
    if (!bucket) this.buckets.set(client, (bucket = { tokens: burst, at: now, throttled: false }));
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * rate) / 1000);
    bucket.at = now;
    bucket.tokens -= 1;
    if (bucket.tokens >= 0) {
      bucket.throttled = false;
      return;
    }
    this.counters.throttled++;
    if (!bucket.throttled) {
      bucket.throttled = true;
      this.opts.logger.info(
        { code: 'EDGETWIN_ERR_LIMIT_RATE', clientId: client.clientId, rate, burst },
        'client publishes faster than mqtt.limits.publishRatePerClient; slowing it down',
      );
    }
    // The token is already taken (the bucket is below zero): wait until it would have been there.
    const ms = Math.ceil((-bucket.tokens * 1000) / rate);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve();
      }, ms);
      this.waits.set(timer, (err) => (err ? reject(err) : resolve()));
    });
  }
}

function stopping(): Error {
  return edgetwinError('EDGETWIN_ERR_STORE_CLOSED', 'edgetwin is stopping: the publish is refused, so that no PUBACK goes out for a change that will not be committed');
}
