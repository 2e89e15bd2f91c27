// The embedded broker's options, their defaults and its statistics. The defaults are the
// config file's (schemas/config.ts, `mqtt.limits`), so a broker built without a config (a
// library user, a benchmark) is bounded the same way; docs/security.md ("Hostile clients")
// says what a client sees at each bound.

import type { TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Authenticator, ClosedClient } from './auth/identity.js';

export interface EmbeddedBrokerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 1883; 0 picks a free port (tests). */
  readonly port?: number;
  /**
   * The largest payload edgetwin accepts. Ingest handlers enforce it exactly (they answer with
   * EDGETWIN_ERR_PAYLOAD_TOO_LARGE); the broker drops any connection that sends a PUBLISH more
   * than a topic's length over it, before buffering it (see frame-guard.ts). Default 1 MiB.
   */
  readonly maxPayloadBytes?: number;
  /** The largest remaining length of any other packet (SUBSCRIBE, …); default 1 MiB. */
  readonly maxPacketBytes?: number;
  /** The largest CONNECT (will included), read before authentication; default 64 KiB. */
  readonly maxConnectBytes?: number;
  /** A socket that has not sent its whole CONNECT by then is closed; default 5 s. */
  readonly connectTimeoutMs?: number;
  readonly logger?: Logger;
  /** Decides each CONNECT (eventbus/auth). Without one every client is accepted under its CONNECT username. */
  readonly authenticate?: Authenticator;
  /** Told once when the connection of a client the authenticator accepted has closed (session ownership, auth/sessions.ts). */
  readonly onClientClose?: (client: ClosedClient) => void;
  /** A TLS listener beside the plain one, started and closed with it. */
  readonly tls?: { readonly host: string; readonly port: number; readonly options: TlsOptions };
  /**
   * A CONNECT while this many clients are already connected (or authenticating) is refused with
   * "server unavailable" (CONNACK 3). Sockets that have not sent a CONNECT yet are not counted:
   * they have a pool of their own, of the same size, whose oldest member makes room for a new one.
   */
  readonly maxConnections?: number;
  /**
   * A client with this many messages admitted but not yet acknowledged is disconnected at the
   * next (MQTT 5's Receive Maximum rule, [MQTT-3.3.4-9]; 3.1.1 has no way to say it).
   */
  readonly maxInflightPerClient?: number;
  /** Bytes queued for one client that does not read (see outbound.ts); default 4 MiB. */
  readonly maxOutgoingBytesPerClient?: number;
  /** How long a client may keep over half of that queued; default 30 s. */
  readonly outgoingStallMs?: number;
  /** Subscriptions one client may hold; one more is granted 128 (failure). Default 25,000. */
  readonly maxSubscriptionsPerClient?: number;
  /** Retained messages the broker keeps, and their bytes (topic + payload); defaults 10,000 and 16 MiB. */
  readonly maxRetainedMessages?: number;
  readonly maxRetainedBytes?: number;
}

export const BROKER_DEFAULTS = {
  maxPayloadBytes: 1_048_576,
  maxPacketBytes: 1_048_576,
  maxConnectBytes: 65_536,
  connectTimeoutMs: 5_000,
  maxConnections: 1_000,
  maxOutgoingBytesPerClient: 4_194_304,
  outgoingStallMs: 30_000,
  maxSubscriptionsPerClient: 25_000,
  maxRetainedMessages: 10_000,
  maxRetainedBytes: 16_777_216,
} as const;

export interface BrokerStats {
  /** MQTT clients connected now. */
  readonly clients: number;
  /** PUBLISH packets received from MQTT clients (including wills). */
  readonly messagesIn: number;
  /** PUBLISH packets sent to MQTT clients. */
  readonly messagesOut: number;
  /** `publish()` calls from in-process code. */
  readonly publishedInProcess: number;
  /** Messages handed to in-process subscribers. */
  readonly deliveredInProcess: number;
  readonly ingested: number;
  readonly ingestFailures: number;
  /** Messages not acknowledged because an ingest handler could not take them (a failed commit). */
  readonly unacknowledged: number;
  readonly denied: number;
  /** CONNECTs refused: credentials, anonymous policy, connection limit. */
  readonly refused: number;
  /** Clients disconnected for exceeding maxInflightPerClient. */
  readonly inflightExceeded: number;
  /** Messages from MQTT clients admitted and not yet acknowledged, now. */
  readonly inflight: number;
  /** Publishes to `$hw/...` whose retain flag was cleared (delivered, never retained: topic-guard.ts). */
  readonly retainCleared: number;
  /** Connections dropped for a packet over its size limit. */
  readonly packetsTooLarge: number;
  /** Connections dropped for bytes that are not MQTT (no CONNECT first, a bad length). */
  readonly protocolViolations: number;
  /** Sockets that have not sent their whole CONNECT yet, now. */
  readonly pendingConnections: number;
  /** Sockets closed for sending no CONNECT within connectTimeoutMs. */
  readonly connectTimeouts: number;
  /** Sockets without a CONNECT closed to make room for a newer one. */
  readonly connectEvictions: number;
  /** QoS 0 messages not sent to a client whose socket was full. */
  readonly outgoingDropped: number;
  /** Clients disconnected for what they left unread (maxOutgoingBytesPerClient, outgoingStallMs). */
  readonly slowClientsDisconnected: number;
  /** Subscriptions granted 128 for maxSubscriptionsPerClient. */
  readonly subscriptionsRefused: number;
  /** Retained publishes refused for maxRetainedMessages or maxRetainedBytes. */
  readonly retainedRefused: number;
  /** Retained messages held now, and their bytes. */
  readonly retainedMessages: number;
  readonly retainedBytes: number;
  /** QoS 2 retransmissions acknowledged without processing them again [MQTT-4.3.3-2]. */
  readonly qos2Duplicates: number;
  /** Log lines clients provoked beyond their budget (log-fields.ts). */
  readonly logLinesSuppressed: number;
}
