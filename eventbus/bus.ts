// The bus contract every module publishes and subscribes through. Two implementations:
// the embedded broker (in-process, no socket; MQTT clients see the same topics) and an MQTT
// client bus (a module running in its own process, or against an external broker).

export type Payload = string | Buffer;

export interface PublishOptions {
  /** 0 (default) or 1. */
  readonly qos?: 0 | 1;
  readonly retain?: boolean;
}

/** Where a message came from, as far as the bus knows. */
export interface MessageOrigin {
  /** The MQTT client id, or undefined for an in-process publish. */
  readonly clientId?: string;
  /**
   * The user the broker authenticated the client as (eventbus/auth); undefined for an anonymous
   * client or an in-process publish. Without an authenticator, the CONNECT username as sent.
   */
  readonly username?: string;
}

export type MessageHandler = (topic: string, payload: Buffer, origin: MessageOrigin) => void | Promise<void>;

/**
 * An ingest handler owns a topic filter: it processes each matching message before the message
 * is acknowledged (MQTT PUBACK for QoS 1, promise resolution for an in-process publish). This is
 * what lets the twin module PUBACK an update only after it is committed to disk. The handler
 * must not throw for bad input: it answers on the result topic instead.
 *
 * A handler that could not take a message it should have (its commit failed: the disk is full)
 * rejects with an EdgetwinError: the message is then not acknowledged. The broker closes the MQTT
 * client's connection without a PUBACK, so a QoS 1 sender sends it again after reconnecting
 * [MQTT-4.4.0-1]; an in-process publish rejects with the error. Any other rejection is a bug: it
 * is logged and the message still acknowledged, so one bad message never stalls a client.
 */
export type IngestHandler = (topic: string, payload: Buffer, origin: MessageOrigin) => Promise<void> | void;

export interface Subscription {
  /** Removes the subscription; idempotent. */
  unsubscribe(): Promise<void>;
}

export interface Bus {
  /** Publishes; resolves when the message has been handed to the broker (and ingested, if a handler owns the topic). */
  publish(topic: string, payload: Payload, options?: PublishOptions): Promise<void>;
  /** Observes every message matching `filter` (MQTT wildcards). A handler's exception is logged, never propagated. */
  subscribe(filter: string, handler: MessageHandler, options?: { readonly qos?: 0 | 1 }): Promise<Subscription>;
  /**
   * For buses that can lose their connection (an MQTT client): called with `true` on every
   * (re)connect and `false` on every loss. Messages published while disconnected at QoS 0 (the
   * twin's deltas, for one) are gone, so a listener re-fetches what it needs. Returns the remover.
   */
  onConnectionChange?(listener: (connected: boolean) => void): () => void;
}

/** A bus that can also own ingest filters (only the embedded broker can). */
export interface IngestBus extends Bus {
  /** At most one handler per filter; registering a second for the same filter throws. */
  handle(filter: string, handler: IngestHandler): Subscription;
  /** Owns the MQTT clients' messages under `prefix` that no `handle` filter matches (one handler per prefix). */
  handleUnmatched(prefix: string, handler: IngestHandler): Subscription;
}
