// What clients can make the broker keep after they are gone or for as long as they stay:
// subscriptions (aedes holds ~1.5 KB per filter: 100k filters from one client took 150 MB)
// and retained messages (aedes-persistence keeps every one, in memory, until a client
// clears it). Each is counted here and capped; aedes itself has no such limit.

import { edgetwinError, type EdgetwinError } from '../errors.js';
import { logSafe } from './log-fields.js';

/**
 * Subscriptions per client, by filter. The broker reads SUBSCRIBE and UNSUBSCRIBE one at a
 * time (frame-guard.ts), so this set follows aedes's `client.subscriptions` exactly: a filter
 * is added when it is granted and removed on aedes's 'unsubscribe' event. Keyed by the
 * connection (aedes's Client), so a closed connection's count goes with it; a persistent
 * session's filters are authorized, and counted, again when it reconnects.
 */
export class SubscriptionCaps<K extends object> {
  refused = 0;
  private readonly max: number;
  private readonly byClient = new WeakMap<K, Set<string>>();

  constructor(max: number) {
    this.max = max;
  }

  /** Takes a slot for `filter` (none if the client holds it already), or says why not. */
  admit(client: K, clientId: string, filter: string): EdgetwinError | undefined {
    let filters = this.byClient.get(client);
    if (!filters) this.byClient.set(client, (filters = new Set()));
    if (filters.has(filter)) return undefined;
    if (filters.size >= this.max) {
      this.refused++;
      return edgetwinError(
        'EDGETWIN_ERR_LIMIT_SUBSCRIPTIONS',
        `${logSafe(clientId)} already holds ${filters.size} subscriptions (mqtt.limits.maxSubscriptionsPerClient); unsubscribe from some first`,
      );
    }
    filters.add(filter);
    return undefined;
  }

  removed(client: K, filters: readonly string[]): void {
    const held = this.byClient.get(client);
    if (held) for (const f of filters) held.delete(f);
  }
}

export interface RetainedReservation {
  /** The publish was not admitted after all: restore the topic's previous entry. */
  cancel(): void;
}

const NOTHING: RetainedReservation = Object.freeze({ cancel: () => undefined });

/**
 * The retained messages aedes will store, by topic, with their size (topic + payload bytes).
 * A retained publish reserves its entry when it arrives; one that would pass a cap is refused
 * before anything of it is applied or stored. An empty payload removes the topic's entry
 * [MQTT-3.3.1-10] and is always allowed, as is replacing an entry within the byte cap.
 */
export class RetainedLedger {
  refused = 0;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly topics = new Map<string, number>();
  private total = 0;

  constructor(limits: { readonly maxMessages: number; readonly maxBytes: number }) {
    this.maxMessages = limits.maxMessages;
    this.maxBytes = limits.maxBytes;
  }

  get messages(): number {
    return this.topics.size;
  }

  get bytes(): number {
    return this.total;
  }

  reserve(topic: string, payloadBytes: number): RetainedReservation | EdgetwinError {
    const previous = this.topics.get(topic);
    if (payloadBytes === 0) {
      if (previous === undefined) return NOTHING;
      this.set(topic, undefined);
      return { cancel: () => this.topics.get(topic) === undefined && this.set(topic, previous) };
    }
    const size = Buffer.byteLength(topic) + payloadBytes;
    const messages = this.topics.size + (previous === undefined ? 1 : 0);
    const bytes = this.total - (previous ?? 0) + size;
    if (messages > this.maxMessages || bytes > this.maxBytes) {
      this.refused++;
      const which = messages > this.maxMessages ? `${this.maxMessages} retained messages (mqtt.limits.maxRetainedMessages)` : `${this.maxBytes} bytes of retained messages (mqtt.limits.maxRetainedBytes)`;
      return edgetwinError('EDGETWIN_ERR_LIMIT_RETAINED', `retaining ${size} bytes on ${logSafe(topic)} would exceed ${which}; clear retained topics (an empty retained payload) or publish without retain`);
    }
    this.set(topic, size);
    return { cancel: () => this.topics.get(topic) === size && this.set(topic, previous) };
  }

  private set(topic: string, size: number | undefined): void {
    this.total -= this.topics.get(topic) ?? 0;
    if (size === undefined) {
      this.topics.delete(topic);
    } else {
      this.topics.set(topic, size);
      this.total += size;
    }
  }
}
