// The twin's bus in external mode (config `mqtt.mode: external | both`): an MQTT client of an
// outside broker (mosquitto, which KubeEdge nodes use by default: eventBus.mqttMode 2) with a
// persistent session, QoS 1 subscriptions to the filters ingest handlers own, and a PUBACK to
// the broker for each message only once its handler has settled, i.e. its change is committed.
// That is the embedded broker's promise (broker.ts authorizePublish) kept across a broker in
// between: what the broker handed over is never lost to a kill -9 of edgetwin, and what was
// published while edgetwin was down is queued by the broker and processed when it returns.
//
// mqtt.js 5 handles one incoming packet at a time: its `handleMessage(packet, callback)` hook
// (client.js) is awaited before the PUBACK is written and before the next packet is read
// (handlers/publish.js, the `work` loop in client.js connect()). Committing inside it would
// cost one store commit per message. Instead the hook starts the ingest and returns at once
// with an error-shaped "deferred" callback, on which handlers/publish.js writes no PUBACK and
// moves to the next packet; the PUBACK is written here, on the same socket, once the message's
// handler settles. So a burst is committed as one group (devicetwin/store/coalesce.ts), and
// PUBACKs still go out in the order the PUBLISHes came [MQTT-4.6.0-2]. Beyond `maxInflight`
// unacknowledged messages the hook waits for the message's ack before returning, which stops
// mqtt.js reading the socket: TCP backpressure instead of an unbounded queue.

import type { IPublishPacket, MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { pino, type Logger } from 'pino';
import { edgetwinError, isEdgetwinError } from '../errors.js';
import { Admission } from './admission.js';
import type { IngestBus, IngestHandler, MessageHandler, Payload, PublishOptions, Subscription } from './bus.js';
import { FilterIndex } from './filter-index.js';
import { MqttBus, redactUrl, type MqttBusSubscribeOptions } from './mqtt-bus.js';
import { isRetainable } from './topics.js';

export interface ExternalBusOptions {
  /** `mqtt://[user:password@]host:port` (mqtts:// too). */
  readonly url: string;
  /** Stable across restarts: the broker keeps the session (subscriptions, queued messages) under it. */
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly logger?: Logger;
  /** 4 (MQTT 3.1.1, default) or 5 (then the session never expires and Receive Maximum is maxInflight). */
  readonly protocolVersion?: 4 | 5;
  /** Reconnect backoff: first delay and cap (ms), as MqttBus. Default 1 s → 30 s. */
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  /** Messages taken from the broker and not yet acknowledged before reading stops. Default 1000. */
  readonly maxInflight?: number;
  /** MQTT 5: the largest packet the broker may send (Maximum Packet Size); MQTT 3.1.1 cannot say it. */
  readonly maxPacketBytes?: number;
  /**
   * The filters ingest handlers will own (the twin's: TWIN_INGEST_FILTERS), known before the
   * first CONNACK: a persistent session delivers what the broker queued as soon as it resumes,
   * before any handler is registered, and those messages must wait for their handler instead of
   * being acknowledged unprocessed. Subscribed at QoS 1 on start(). handle() may add more.
   */
  readonly ingestFilters?: readonly string[];
}

/** What /readyz and metrics show of the external connection. */
export interface ExternalBusStatus {
  /** The broker URL without its password. */
  readonly url: string;
  readonly connected: boolean;
  /** Failed connection attempts since the last successful one. */
  readonly attempts: number;
  readonly lastError?: string;
  /** Messages received and not yet acknowledged. */
  readonly inflight: number;
  /** QoS 1 messages acknowledged to the broker after their ingest. */
  readonly acked: number;
  readonly ingested: number;
  readonly ingestFailures: number;
}

type Verdict = 'ack' | 'drop';

interface Message {
  readonly topic: string;
  readonly payload: Buffer;
}

/** A message that matched an ingest filter while no handler owned it (before listen, during stop). */
interface Waiting extends Message {
  readonly settle: (verdict: Verdict) => void;
}

/**
 * Passed to mqtt.js's handleMessage callback: handlers/publish.js then writes no PUBACK (this
 * bus writes it after the commit) and reads on. Never surfaced: publish.js hands it to the
 * packet loop's `done`, which ignores its argument.
 */
const DEFERRED = new Error('PUBACK deferred until the message is committed');

const NOOP_HANDLER: MessageHandler = () => undefined;

export class ExternalBus implements IngestBus {
  private readonly o: ExternalBusOptions;
  private readonly log: Logger;
  private readonly mqtt: MqttBus;
  private readonly admission: Admission;
  /** Filters subscribed at the broker for ingest. Never unsubscribed: the persistent session must keep queueing them. */
  private readonly ingestFilters = new FilterIndex<true>();
  private readonly subscribing = new Map<string, Promise<void>>();
  /** Ingest messages waiting for a handler, in arrival order. */
  private readonly waiting: Waiting[] = [];
  /** Per socket, the promise of its last PUBACK (PUBACKs go out in arrival order). */
  private readonly tails = new WeakMap<object, Promise<void>>();
  private lastAck: Promise<void> = Promise.resolve();
  private readonly counters = { acked: 0 };
  /** Ingest filters registered before start(), subscribed once connected. */
  private readonly pendingFilters: string[] = [];
  private started = false;
  private closing: Promise<void> | undefined;
  private inflight = 0;
  private attempts = 0;
  private lastError: string | undefined;
  private drainScheduled = false;
  /** Counts connections that came up (mqtt.js 'connect': connected, offline store resent). */
  private generation = 0;
  private readonly upWaiters = new Set<{ after: number; resolve: () => void; reject: (err: Error) => void }>();

  constructor(options: ExternalBusOptions) {
    this.o = options;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.admission = new Admission(this.log);
    for (const filter of options.ingestFilters ?? []) this.addIngestFilter(filter);
    const v5 = options.protocolVersion === 5;
    const maxInflight = options.maxInflight ?? 1000;
    this.mqtt = new MqttBus({
      url: options.url,
      clientId: options.clientId,
      logger: this.log,
      protocolVersion: options.protocolVersion ?? 4,
      clean: false,
      // MQTT 5: Session Expiry 0xFFFFFFFF never expires [MQTT-3.1.2.11.2]; without it a v5
      // session ends with the connection. Receive Maximum bounds what the broker sends unacked.
      // Maximum Packet Size: the broker does not send larger ones [MQTT-3.1.2-24].
      ...(v5
        ? {
            properties: {
              sessionExpiryInterval: 0xffffffff,
              receiveMaximum: Math.min(maxInflight, 65535),
              ...(options.maxPacketBytes !== undefined ? { maximumPacketSize: options.maxPacketBytes } : {}),
            },
          }
        : {}),
      retryUntilConnected: true,
      onClient: (client) => this.attach(client),
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.reconnectBaseMs !== undefined ? { reconnectBaseMs: options.reconnectBaseMs } : {}),
      ...(options.reconnectMaxMs !== undefined ? { reconnectMaxMs: options.reconnectMaxMs } : {}),
    });
    this.mqtt.onConnectionChange((connected) => {
      if (!connected) return;
      this.generation++;
      for (const w of this.upWaiters) {
        if (this.generation <= w.after) continue;
        this.upWaiters.delete(w);
        w.resolve();
      }
    });
  }

  /** The broker URL without its password. */
  get url(): string {
    return redactUrl(this.o.url);
  }

  get connected(): boolean {
    return this.mqtt.connected;
  }

  /**
   * Connects, retrying with backoff for as long as it takes (a broker that is down at boot is
   * waited for, not a reason to exit); rejects only on a refused CONNACK (bad credentials,
   * client id not allowed) or when closed first. Then subscribes the ingest filters so far.
   */
  async start(): Promise<void> {
    if (this.started) throw edgetwinError('EDGETWIN_ERR_INTERNAL', 'The external bus is already started.');
    this.started = true;
    await this.mqtt.start();
    for (const filter of this.pendingFilters) this.subscribeIngest(filter);
    this.pendingFilters.length = 0;
  }

  /** Resolves once every ingest filter registered so far is granted by the broker. */
  async subscribed(): Promise<void> {
    await Promise.all(this.subscribing.values());
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.mqtt.onConnectionChange(listener);
  }

  /**
   * Owns `filter`: each matching message is handed to `handler` and acknowledged to the broker
   * once it settles. unsubscribe() removes the handler but keeps the broker subscription, so
   * the broker goes on queueing for the session; a message that arrives with no handler waits
   * (unacknowledged) for one, or for close().
   */
  handle(filter: string, handler: IngestHandler): Subscription {
    const sub = this.admission.handle(filter, handler);
    this.addIngestFilter(filter);
    // A module registers its filters in one go (DeviceTwin.listen): drain once they all are.
    this.scheduleDrain();
    return sub;
  }

  /**
   * Registered, but the external broker only hands over the filters edgetwin subscribed to
   * (handle): a request on a malformed device topic never reaches edgetwin through it, so it
   * is not answered (docs/external-broker.md). Subscribing to the whole prefix instead would
   * also hand edgetwin back its own answers.
   */
  handleUnmatched(prefix: string, handler: IngestHandler): Subscription {
    return this.admission.handleUnmatched(prefix, handler);
  }

  /**
   * Publishes; at QoS 1, delivered at least once however the connection comes and goes: mqtt.js
   * fails a QoS 1 publish queued while it resends its offline store when the connection drops
   * again ("Connection closed", client.js _flushStoreProcessingQueue), and such a publish is
   * sent again once reconnected, until close().
   */
  async publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<void> {
    for (;;) {
      const generation = this.generation;
      try {
        await this.mqtt.publish(topic, payload, options);
        return;
      } catch (err) {
        if ((options.qos ?? 0) === 0 || this.closing || !isConnectionLoss(err)) throw err;
        await this.reconnectedSince(generation);
      }
    }
  }

  subscribe(filter: string, handler: MessageHandler, options: MqttBusSubscribeOptions = {}): Promise<Subscription> {
    return this.mqtt.subscribe(filter, handler, options);
  }

  unsubscribeAll(owner: string): Promise<void> {
    return this.mqtt.unsubscribeAll(owner);
  }

  status(): ExternalBusStatus {
    const { ingested, ingestFailures } = this.admission.counters;
    return {
      url: this.url,
      connected: this.connected,
      attempts: this.attempts,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      inflight: this.inflight,
      acked: this.counters.acked,
      ingested,
      ingestFailures,
    };
  }

  /**
   * Stops taking messages (those still unacknowledged are redelivered by the broker to the next
   * session), writes the PUBACKs of those already handled, then disconnects; idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const w of this.waiting.splice(0)) w.settle('drop');
    const closed = edgetwinError('EDGETWIN_ERR_BROKER_CONNECT', `The connection to ${this.url} was closed.`);
    for (const w of this.upWaiters) w.reject(closed);
    this.upWaiters.clear();
    await this.lastAck;
    await this.mqtt.close();
  }

  private addIngestFilter(filter: string): void {
    if (this.ingestFilters.has(filter)) return;
    this.ingestFilters.add(filter, true);
    if (this.started) this.subscribeIngest(filter);
    else this.pendingFilters.push(filter);
  }

  /** Subscribes at QoS 1, again after each connection loss that failed the SUBSCRIBE, until granted or closed. */
  private subscribeIngest(filter: string): void {
    const attempt = async (): Promise<void> => {
      for (;;) {
        const generation = this.generation;
        try {
          await this.mqtt.subscribe(filter, NOOP_HANDLER, { qos: 1 });
          return;
        } catch (err) {
          // The filter is valid (handle() checked it), so a failure is the connection's.
          if (this.closing) return;
          this.log.warn({ err, filter }, 'ingest subscription failed; retrying once reconnected');
          if (!(await this.reconnectedSince(generation).then(() => true, () => false))) return;
        }
      }
    };
    this.subscribing.set(filter, attempt());
  }

  /**
   * Resolves once a connection has come up after `generation` (at once if one already has), so
   * each retry needs a new connection and never spins; rejects when the bus closes.
   */
  private reconnectedSince(generation: number): Promise<void> {
    if (this.closing) return Promise.reject(edgetwinError('EDGETWIN_ERR_BROKER_CONNECT', `The connection to ${this.url} is closing.`));
    if (this.generation > generation) return Promise.resolve();
    return new Promise((resolve, reject) => this.upWaiters.add({ after: generation, resolve, reject }));
  }

  /** Hooks into each mqtt.js client MqttBus creates (one per bus, reused across reconnects). */
  private attach(client: MqttClient): void {
    client.handleMessage = (packet, callback) => this.onPublish(client, packet, callback);
    client.on('connect', () => {
      this.attempts = 0;
      this.lastError = undefined;
    });
    client.on('error', (err) => {
      this.lastError = err.message;
      if (!client.connected) this.log.warn({ url: this.url, attempt: this.attempts + 1, err: err.message }, 'cannot reach the MQTT broker; retrying with backoff');
    });
    client.on('reconnect', () => {
      this.attempts++;
    });
  }

  private onPublish(client: MqttClient, packet: IPublishPacket, callback: (err?: Error) => void): void {
    const message: Message = { topic: packet.topic, payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload };
    if (packet.qos === 2) {
      // Never asked for (every subscription here is QoS 0 or 1); mqtt.js completes the QoS 2 flow itself.
      void this.admit(message).then(() => callback());
      return;
    }
    const stream: object = client.stream;
    const messageId = packet.qos === 1 ? packet.messageId : undefined;
    this.inflight++;
    // A broker sets the retain flag only on a stored message it replays at subscribe time
    // [MQTT-3.3.1-8, -9]. Under $hw/ that is a forgery or a stale request left on the outside
    // broker (edgetwin never retains there): applying it would undo newer values on every
    // reconnect. It is acknowledged in its turn (so the broker does not resend it) and not
    // ingested; MqttBus counts and logs it (mqtt-bus.ts onMessage, on the 'message' event that
    // mqtt.js emits beside this hook).
    const verdict: Promise<Verdict> = packet.retain && !isRetainable(packet.topic) ? Promise.resolve('ack') : this.admit(message);
    const previous = this.tails.get(stream) ?? Promise.resolve();
    const settled = Promise.all([previous, verdict]).then(([, v]) => {
      this.inflight--;
      if (v === 'ack' && messageId !== undefined) this.writePuback(client, stream, messageId);
    });
    this.tails.set(stream, settled);
    this.lastAck = settled;
    // QoS 0 has nothing to acknowledge but counts towards the bound all the same.
    if (this.inflight > (this.o.maxInflight ?? 1000)) void settled.then(() => callback(DEFERRED));
    else callback(DEFERRED);
  }

  /** Ingests one message; resolves when it may be acknowledged ('ack') or must not be ('drop'). */
  private admit(message: Message): Promise<Verdict> {
    if (this.closing) return Promise.resolve('drop');
    if (this.ingestFilters.match(message.topic).length === 0) return Promise.resolve('ack');
    if (this.waiting.length > 0 || !this.admission.hasIngest(message.topic)) {
      return new Promise((settle) => this.waiting.push({ ...message, settle }));
    }
    return this.ingest(message);
  }

  private ingest(message: Message): Promise<Verdict> {
    // Started synchronously, in arrival order: the twin merges each message before it awaits
    // the commit, so order per device is kept while commits of many messages group.
    return this.admission.runIngest(message.topic, message.payload, {}).then(() => 'ack' as const);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => {
      this.drainScheduled = false;
      while (this.waiting.length > 0 && !this.closing && this.admission.hasIngest(this.waiting[0]!.topic)) {
        const w = this.waiting.shift()!;
        void this.ingest(w).then(w.settle);
      }
    });
  }

  private writePuback(client: MqttClient, stream: object, messageId: number): void {
    // A PUBACK belongs to the connection its PUBLISH came on; after a reconnect the broker
    // redelivers what was not acknowledged (at least once), so a stale one is dropped.
    const s = client.stream;
    if (s !== stream || s.destroyed || !s.writable) return;
    s.write(mqttPacket.generate({ cmd: 'puback', messageId }, { protocolVersion: this.o.protocolVersion ?? 4 }));
    this.counters.acked++;
  }
}

/**
 * A failure of the connection (not of the request): worth sending again once reconnected. A
 * QoS 1 publish MqttBus could not get acknowledged (not connected, or the connection closed
 * before its PUBACK) is one: MqttBus rejects it instead of queueing it (mqtt-bus.ts).
 */
function isConnectionLoss(err: unknown): boolean {
  return isEdgetwinError(err) && (err.code === 'EDGETWIN_ERR_BROKER_CONNECT' || err.code === 'EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED');
}
