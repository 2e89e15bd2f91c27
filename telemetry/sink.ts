// The contract between telemetry's durable outbox (telemetry/outbox/) and every destination that
// device values leave the node for: KubeEdge's pushMethod/dbMethod sinks (telemetry/sinks/) and
// Prometheus remote write (telemetry/remote-write/). A sink only delivers; queueing, ordering,
// bounds, retries with backoff and the restart-safe backlog are the outbox's job.

import type { EdgetwinError } from '../errors.js';

/** One value on its way out: a reported property value as the twin accepted it. */
export interface SinkRecord {
  /**
   * Stable identity of this value (device, property and the twin's timestamp): the idempotent key
   * a sink uses where it can (a database's primary key, a Redis sorted-set member), so a value
   * redelivered after an outage is stored once.
   */
  readonly key: string;
  /** `<namespace>/<name>`. */
  readonly device: string;
  readonly property: string;
  /** The value as the model types it (numbers, booleans, strings). */
  readonly value: string | number | boolean;
  /** The model's unit, when it has one. */
  readonly unit?: string;
  /** When the twin accepted it (ms since the epoch). */
  readonly timestamp: number;
}

/** A destination. `deliver` resolves only when every record in the batch is stored there. */
export interface Sink {
  /** Unique and stable across restarts (the outbox keys its backlog by it), e.g. `redis:default/thermostat`. */
  readonly name: string;
  /**
   * Delivers a batch, in order. Rejects with a coded error (EdgetwinError) when the destination
   * is down or refuses; the outbox then keeps the batch and retries it with backoff. Must honour
   * `signal` (the outbox aborts a delivery on shutdown or when it takes too long).
   */
  deliver(batch: readonly SinkRecord[], signal: AbortSignal): Promise<void>;
  /**
   * Whether a rejection of `deliver` means the batch will never be accepted (remote write: a 4xx,
   * which the remote-write spec says not to retry). The outbox then drops the batch, counts it
   * as dropped and logs it, instead of retrying it forever ahead of every later value. Without
   * this method every rejection is retried.
   */
  isPermanent?(err: EdgetwinError): boolean;
  /** Releases connections; idempotent. */
  close(): Promise<void>;
}
