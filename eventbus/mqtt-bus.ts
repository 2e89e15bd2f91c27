// The bus over an MQTT connection (mqtt.js 5): for a module running in its own process, or
// against an outside broker (mosquitto). Several local handlers share one broker subscription
// per filter; messages are dispatched to them by filter here.

import type { Socket } from 'node:net';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { edgetwinError, toEdgetwinError } from '../errors.js';
import type { Bus, MessageHandler, Payload, PublishOptions, Subscription } from './bus.js';
import { FilterIndex } from './filter-index.js';
import { isRetainable, isValidTopicFilter, isValidTopicName } from './topics.js';
import { OwnedSubscriptions } from './owners.js';

export interface MqttBusOptions {
  /** `mqtt://host:port` (also mqtts://, ws://, as mqtt.js accepts). */
  readonly url: string;
  readonly clientId?: string;
  readonly username?: string;
  readonly password?: string;
  readonly logger?: Logger;
  /** How long start() keeps trying before EDGETWIN_ERR_BROKER_CONNECT. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap (ms), doubled per failed attempt, ±20 % jitter. Default 1 s → 30 s. */
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  /**
   * 4 (MQTT 3.1.1, default; all aedes speaks) or 5. Under 4, a message is dispatched to every
   * local filter it matches; aedes and mosquitto 2.0 send one copy per client however many of
   * its filters overlap, but 3.1.1 lets a broker send one per subscription [MQTT-3.3.5-1], and
   * then overlapping handlers would see it twice. Under 5 each filter carries a subscription
   * identifier and copies are dispatched by it [MQTT-3.3.4-4], which stays exact when the
   * broker sends one copy per subscription (mosquitto 2.0 does under MQTT 5).
   */
  readonly protocolVersion?: 4 | 5;
  /** false: a persistent session (the broker keeps subscriptions and queues QoS 1 messages while away). Default true. */
  readonly clean?: boolean;
  /** CONNECT properties (MQTT 5: sessionExpiryInterval, receiveMaximum). */
  readonly properties?: IClientOptions['properties'];
  /** start() waits for the first CONNACK however long it takes (retrying with the backoff) instead of failing after connectTimeoutMs; close() ends the wait. */
  readonly retryUntilConnected?: boolean;
  /** Called with the mqtt.js client right after it is created, before any packet arrives (eventbus/external-bus.ts overrides handleMessage). */
  readonly onClient?: (client: MqttClient) => void;
}

export interface MqttBusSubscribeOptions {
  readonly qos?: 0 | 1;
  /** Groups subscriptions so `unsubscribeAll(owner)` removes them in one call. */
  readonly owner?: string;
}

export interface MqttBusStats {
  readonly connected: boolean;
  /** Successful CONNACKs, the first included. */
  readonly connects: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Retained messages under `$hw/` ignored on arrival (see onMessage). */
  readonly retainedDropped: number;
}

/** One broker subscription, shared by the local handlers of its filter. */
interface FilterState {
  readonly id: number;
  qos: 0 | 1;
  refs: number;
  ready: Promise<void>;
}

interface Local {
  readonly handler: MessageHandler;
}

const CLOSE_GRACE_MS = 2_000;

/** mqtt.js's publish callback. */
type PublishCallback = (err?: Error) => void;

export class MqttBus implements Bus {
  private readonly options: MqttBusOptions;
  private readonly log: Logger;
  private readonly index = new FilterIndex<Local>();
  private readonly filters = new Map<string, FilterState>();
  private readonly byId = new Map<number, string>();
  private readonly owned = new OwnedSubscriptions();
  private readonly counters = { connects: 0, messagesIn: 0, messagesOut: 0, retainedDropped: 0 };
  private readonly statusListeners = new Set<(connected: boolean) => void>();
  /** QoS 1 publishes handed to mqtt.js and not yet acknowledged (see publish). */
  private readonly unacked = new Set<PublishCallback>();
  private lastStatus = false;
  private client: MqttClient | undefined;
  private attempt = 0;
  private nextId = 1;
  private closing: Promise<void> | undefined;

  constructor(options: MqttBusOptions) {
    this.options = options;
    this.log = options.logger ?? pino({ level: 'silent' });
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Calls `listener` on every change of connection state (for health); returns its remover. */
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.client) throw edgetwinError('EDGETWIN_ERR_INTERNAL', 'The MQTT bus is already started.');
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const clientOptions: IClientOptions = {
      protocolVersion: this.options.protocolVersion ?? 4,
      clean: this.options.clean ?? true,
      // mqtt.js records subscriptions for resubscription only while reconnectPeriod > 0
      // (client.js subscribe); the backoff below keeps it positive.
      resubscribe: true,
      reconnectPeriod: this.backoff(0),
      // A refused CONNACK otherwise stops reconnecting for good (handlers/connack.js).
      reconnectOnConnackError: true,
      connectTimeout: timeoutMs,
      ...(this.options.clientId !== undefined ? { clientId: this.options.clientId } : {}),
      ...(this.options.username !== undefined ? { username: this.options.username } : {}),
      ...(this.options.password !== undefined ? { password: this.options.password } : {}),
      ...(this.options.properties !== undefined ? { properties: this.options.properties } : {}),
    };
    const client = connect(this.options.url, clientOptions);
    this.client = client;
    // mqtt.js has no noDelay option and builds a new socket per attempt; the CONNECT is the
    // first packet written on each, so that is where Nagle is switched off. The first socket's
    // CONNECT is written inside connect() itself, before this listener exists: that socket is
    // set here (Node applies it once the socket connects). With Nagle on, a consumer's small
    // PUBACKs waited for the broker's delayed ACKs: 500 msg/s instead of 3,000 in bench (g).
    (client.stream as Partial<Socket>).setNoDelay?.(true);
    client.on('packetsend', (packet) => {
      if (packet.cmd === 'connect') (client.stream as Partial<Socket>).setNoDelay?.(true);
    });
    client.on('connect', () => {
      this.counters.connects++;
      this.attempt = 0;
      client.options.reconnectPeriod = this.backoff(0);
      this.log.info({ url: redactUrl(this.options.url) }, 'MQTT connected');
      this.setStatus(true);
    });
    client.on('close', () => {
      this.failUnacked(client);
      this.setStatus(false);
    });
    // Emitted before each reconnect attempt: the period set here is the wait after it fails.
    client.on('reconnect', () => {
      client.options.reconnectPeriod = this.backoff(++this.attempt);
    });
    client.on('offline', () => this.log.warn({ url: redactUrl(this.options.url) }, 'MQTT connection lost; reconnecting'));
    client.on('error', (err) => this.log.debug({ err }, 'MQTT client error'));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    this.options.onClient?.(client);
    try {
      await firstConnect(client, this.options.retryUntilConnected ? undefined : timeoutMs);
    } catch (err) {
      this.client = undefined;
      client.end(true);
      throw edgetwinError(
        'EDGETWIN_ERR_BROKER_CONNECT',
        `Cannot connect to ${redactUrl(this.options.url)}${this.options.retryUntilConnected ? '' : ` within ${timeoutMs} ms`}: ${(err as Error).message}.`,
        [],
        err,
      );
    }
  }

  /**
   * QoS 0 resolves once written (queued while offline). QoS 1 resolves on the broker's PUBACK,
   * and rejects with EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED when there is no connection, or when
   * the connection closes before the PUBACK: the embedded broker does that to a message the
   * twin could not commit (eventbus/bus.ts), and a broker may drop a connection for any reason.
   * Nothing is known to be applied then, and the caller decides what to send again (the mapper
   * runtime keeps the latest reading per property and resends it): mqtt.js's own resend from
   * its outgoing store is cancelled, so a message is never sent twice behind the caller's back,
   * and the store cannot grow while a broker keeps refusing.
   */
  async publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<void> {
    const client = this.running();
    if (!isValidTopicName(topic)) {
      throw edgetwinError('EDGETWIN_ERR_TOPIC_INVALID', `Cannot publish to ${JSON.stringify(topic)}: not a topic name.`);
    }
    const qos = options.qos ?? 0;
    // Never retained under $hw/ (topics.ts isRetainable), whatever broker this is.
    const retain = (options.retain ?? false) && isRetainable(topic);
    if (qos === 1 && !client.connected) throw unacknowledged(topic, 'not connected to the broker');
    this.counters.messagesOut++;
    if (qos === 1) return this.publishAcknowledged(client, topic, payload, retain);
    try {
      await client.publishAsync(topic, payload, { qos, retain });
    } catch (err) {
      throw toEdgetwinError(err, 'EDGETWIN_ERR_BROKER_CONNECT');
    }
  }

  private publishAcknowledged(client: MqttClient, topic: string, payload: Payload, retain: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle: PublishCallback = (err) => {
        if (!this.unacked.delete(settle)) return; // settled already (failUnacked, then mqtt.js's own callback)
        if (err) reject(toEdgetwinError(err, 'EDGETWIN_ERR_BROKER_CONNECT'));
        else resolve();
      };
      this.unacked.add(settle);
      // Tagged, so failUnacked can find it among mqtt.js's outgoing messages.
      const callback = Object.assign((err?: Error) => settle(err), { settles: settle });
      client.publish(topic, payload, { qos: 1, retain }, callback);
    });
  }

  /** The connection closed: every QoS 1 publish still waiting for its PUBACK fails, and mqtt.js forgets it. */
  private failUnacked(client: MqttClient): void {
    if (this.unacked.size === 0) return;
    const waiting = [...this.unacked];
    const error = unacknowledged('', 'the connection to the broker closed before it acknowledged the message');
    for (const settle of waiting) settle(error);
    // mqtt.js would send them again on its next connection; the callers now own that.
    for (const [id, entry] of Object.entries(client.outgoing)) {
      if (entry.cmd === 'publish' && waiting.some((s) => isCallbackOf(entry.cb, s))) client.removeOutgoingMessage(Number(id));
    }
  }

  async subscribe(filter: string, handler: MessageHandler, options: MqttBusSubscribeOptions = {}): Promise<Subscription> {
    const client = this.running();
    if (!isValidTopicFilter(filter)) {
      throw edgetwinError('EDGETWIN_ERR_TOPIC_INVALID', `Cannot subscribe to ${JSON.stringify(filter)}: not a topic filter.`);
    }
    const qos = options.qos ?? 0;
    let state = this.filters.get(filter);
    if (!state) {
      state = { id: this.nextId++, qos, refs: 0, ready: Promise.resolve() };
      this.filters.set(filter, state);
      this.byId.set(state.id, filter);
      state.ready = this.brokerSubscribe(client, filter, state);
    } else if (state.qos < qos) {
      // [MQTT-3.8.4-3]: subscribing again replaces the subscription, here with the higher QoS.
      state.qos = qos;
      state.ready = this.brokerSubscribe(client, filter, state);
    }
    state.refs++;
    // Registered before the SUBACK is awaited: a broker may send matching messages right
    // behind the SUBACK, even before it (MQTT 3.1.1 §3.8.4), and mqtt.js can emit them before the
    // await below resumes. A caller that subscribes and then asks (twin/get) gets its answer.
    const local: Local = { handler };
    this.index.add(filter, local);
    try {
      await state.ready;
    } catch (err) {
      this.index.remove(filter, local);
      await this.release(filter, state);
      throw this.refusal(filter, err);
    }
    let active = true;
    const { owner } = options;
    const subscription: Subscription = {
      unsubscribe: async () => {
        if (!active) return;
        active = false;
        this.owned.delete(owner, subscription);
        this.index.remove(filter, local);
        await this.release(filter, state);
      },
    };
    this.owned.add(owner, subscription);
    return subscription;
  }

  /** Removes every subscription made with `{ owner }`. */
  unsubscribeAll(owner: string): Promise<void> {
    return this.owned.removeAll(owner);
  }

  stats(): MqttBusStats {
    return { connected: this.connected, ...this.counters };
  }

  /** Disconnects (DISCONNECT sent if connected, so no will fires); idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private running(): MqttClient {
    if (!this.client || this.closing) throw edgetwinError('EDGETWIN_ERR_INTERNAL', 'The MQTT bus is not running.');
    return this.client;
  }

  /**
   * A refused subscription as the caller should see it. MQTT 3.1.1 has one failure code in a
   * SUBACK, 0x80 [MQTT-3.9.3], which edgetwin's broker (and mosquitto's ACL) send for a filter
   * the client's user may not read; MQTT 5 says so exactly (0x87 Not authorized). mqtt.js puts
   * the SUBACK on the error (ErrorWithSubackPacket, lib/client.js subscribe).
   */
  private refusal(filter: string, err: unknown): Error {
    const granted = (err as { packet?: { granted?: unknown } }).packet?.granted;
    const code = Array.isArray(granted) ? granted.find((g): g is number => typeof g === 'number' && (g & 0x80) !== 0) : undefined;
    if (code !== 0x80 && code !== 0x87) return toEdgetwinError(err);
    return edgetwinError(
      'EDGETWIN_ERR_ACCESS_DENIED',
      `${this.user()} may not subscribe to ${filter}: ${redactUrl(this.options.url)} refused it (SUBACK 0x${code.toString(16)}). ` +
        "The user's role or device list does not cover this device or topic (docs/security.md, Roles); the broker's log names the reason.",
      [],
      err,
    );
  }

  /** Who this bus connects as, for error messages: `user "name"` or `anonymous`. */
  private user(): string {
    let name = this.options.username;
    if (name === undefined) {
      try {
        name = decodeURIComponent(new URL(this.options.url).username);
      } catch {
        name = '';
      }
    }
    return name ? `user "${name}"` : 'an anonymous client';
  }

  private async brokerSubscribe(client: MqttClient, filter: string, state: FilterState): Promise<void> {
    const v5 = this.options.protocolVersion === 5;
    await client.subscribeAsync(filter, {
      qos: state.qos,
      ...(v5 ? { properties: { subscriptionIdentifier: state.id } } : {}),
    });
  }

  /** Drops one reference to a broker subscription; the last one unsubscribes. */
  private async release(filter: string, state: FilterState): Promise<void> {
    if (--state.refs > 0 || this.filters.get(filter) !== state) return;
    this.filters.delete(filter);
    this.byId.delete(state.id);
    const client = this.client;
    if (!client || this.closing) return;
    const unsubscribed = client.unsubscribeAsync(filter).catch((err: unknown) => this.log.warn({ err, filter }, 'MQTT unsubscribe failed'));
    // Offline, mqtt.js drops the filter from what it resubscribes at once and sends UNSUBSCRIBE
    // after the reconnect (lib/client.js unsubscribe): waiting for that would hold the caller
    // for as long as the broker is away (or, after a denied publish, refuses the resend).
    if (client.connected) await unsubscribed;
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    this.counters.messagesIn++;
    // A broker sends the retain flag only on a stored message replayed at subscribe time
    // [MQTT-3.3.1-8, -9]. Under $hw/ that is never edgetwin's answer but a forgery (or a stale
    // message on an outside broker): a retained delta would be written to the device again on
    // every resubscribe. The current state is fetched with twin/get instead.
    if (packet.retain && !isRetainable(topic)) {
      this.counters.retainedDropped++;
      this.log.warn({ topic }, 'retained message under $hw/ ignored');
      return;
    }
    const ids = packet.properties?.subscriptionIdentifier;
    if (ids === undefined) {
      for (const local of this.index.match(topic)) this.dispatch(local.handler, topic, payload);
      return;
    }
    for (const id of Array.isArray(ids) ? ids : [ids]) {
      const filter = this.byId.get(id);
      if (filter === undefined) continue;
      for (const local of this.index.valuesOf(filter)) this.dispatch(local.handler, topic, payload);
    }
  }

  private setStatus(connected: boolean): void {
    if (connected === this.lastStatus) return;
    this.lastStatus = connected;
    for (const listener of this.statusListeners) {
      try {
        listener(connected);
      } catch (err) {
        this.log.error({ err }, 'connection listener failed');
      }
    }
  }

  /** Runs a handler; its exception or rejection is logged, never propagated. */
  private dispatch(handler: MessageHandler, topic: string, payload: Buffer): void {
    try {
      // MQTT 3.1.1 does not say who published; the origin stays empty.
      const result = handler(topic, payload, {});
      if (result instanceof Promise) result.catch((err: unknown) => this.log.error({ err, topic }, 'subscriber failed'));
    } catch (err) {
      this.log.error({ err, topic }, 'subscriber failed');
    }
  }

  /** Exponential backoff with ±20 % jitter so a fleet does not reconnect in lockstep. */
  private backoff(attempt: number): number {
    const base = this.options.reconnectBaseMs ?? 1_000;
    const max = this.options.reconnectMaxMs ?? 30_000;
    const delay = Math.min(max, base * 2 ** Math.min(attempt, 30));
    return Math.max(1, Math.round(delay * (0.8 + Math.random() * 0.4)));
  }

  private async shutdown(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.owned.clear();
    // A graceful end waits for in-flight QoS 1 acks; a broker that never answers must not
    // hold close() forever, so fall back to a forced end after a grace period.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS);
    });
    try {
      if (!client.connected) await client.endAsync(true);
      else if ((await Promise.race([client.endAsync(false), grace])) === 'timeout') await client.endAsync(true);
    } finally {
      clearTimeout(timer);
      client.removeAllListeners();
      // A forced end can leave a write failing later (EPIPE); unheard, mqtt.js's 'error' event
      // would end the process.
      client.on('error', () => undefined);
      this.setStatus(false);
      this.statusListeners.clear();
      this.log.info('MQTT bus closed');
    }
  }
}

/**
 * Resolves on the first CONNACK. Socket errors (ECONNREFUSED, ...) are retried by mqtt.js's
 * reconnect until `timeoutMs` (undefined: until the client is ended); a refused CONNACK
 * (numeric return code) fails at once.
 */
function firstConnect(client: MqttClient, timeoutMs: number | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    let last: Error | undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('end', onEnd);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('closed while connecting'));
    };
    const onConnect = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error): void => {
      last = err;
      if (typeof (err as { code?: unknown }).code === 'number') {
        cleanup();
        reject(err);
      }
    };
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            cleanup();
            reject(last ?? new Error('no CONNACK'));
          }, timeoutMs);
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('end', onEnd);
  });
}

function unacknowledged(topic: string, why: string): Error {
  return edgetwinError(
    'EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED',
    `QoS 1 publish${topic ? ` to ${topic}` : ''} not acknowledged: ${why}; nothing is known to be applied, so publish it again`,
  );
}

/** mqtt.js keeps the callback handed to client.publish as the message's `outgoing[id].cb`. */
function isCallbackOf(kept: unknown, settle: PublishCallback): boolean {
  return typeof kept === 'function' && (kept as { settles?: PublishCallback }).settles === settle;
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
