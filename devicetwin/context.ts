// What a message handler may use: the device registry, a durable apply, and the outgoing bus.
// Handlers are plain functions of (context, topic parts, payload) so each is small and testable.

import type { Logger } from 'pino';
import type { EdgetwinError } from '../errors.js';
import type { MessageOrigin } from '../eventbus/index.js';
import type { DeviceModel, DeviceInstance } from '../schemas/index.js';
import type { MergeSuccess, UpdateOrigin } from './merge.js';
import type { ParseLimits } from './parse.js';
import type { AckState, DeviceStateName, DeviceTwinState } from './types.js';
import type { BaseMessage, ResultMessage } from './wire.js';

export interface DeviceEntry {
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
  /** The latest state (including changes whose commit is still in flight). */
  readonly state: DeviceTwinState;
}

/** Emitted after a change is committed. */
export interface TwinChange {
  readonly id: string;
  readonly device: DeviceTwinState;
  readonly changed: readonly string[];
  readonly origin: UpdateOrigin;
}

/** How a twin update was answered: committed, nothing to persist, refused, or not saved. */
export type UpdateOutcome = 'applied' | 'unchanged' | 'rejected' | 'failed';

/**
 * Optional instrumentation (edgecore/metrics.ts implements it). Called synchronously on the hot
 * path, once per update: implementations bump counters and allocate nothing.
 */
export interface TwinObserver {
  /** An update (MQTT or the API) was answered; `code` is the error code unless applied or unchanged. */
  update(outcome: UpdateOutcome, origin: UpdateOrigin, code?: string): void;
  /** A desired value's ack became `state` (pending: a new desired value), `ageMs` after the value was set. */
  ack(state: AckState, ageMs: number): void;
  /** Two mappers were seen reporting for `device` (once per conflict window, reporters.ts). */
  mapperConflict(device: string): void;
}

export const NO_OBSERVER: TwinObserver = { update: () => undefined, ack: () => undefined, mapperConflict: () => undefined };

export interface HandlerContext {
  readonly nodeName: string;
  readonly limits: ParseLimits;
  readonly logger: Logger;
  readonly observer: TwinObserver;
  now(): number;
  /** A fresh event id, for the messages KubeEdge builds with `dttype.BuildBaseMessage()` (a uuid). */
  newEventId(): string;
  device(id: string): DeviceEntry | undefined;
  devices(): Iterable<DeviceEntry>;
  /** Makes `outcome.next` current and durable; resolves after commit, rejects (state reverted) with EDGETWIN_ERR_STORE_WRITE. */
  applyTwins(id: string, outcome: MergeSuccess, origin: UpdateOrigin): Promise<void>;
  applyState(id: string, state: DeviceStateName, lastOnline: string): Promise<void>;
  /**
   * A report (`state/update`, or a `twin/update` with actual values or acks) for a bound device
   * from `origin`: watched for two mappers serving one device (reporters.ts).
   */
  noteReport(id: string, origin: MessageOrigin): void;
  /** May `origin` report actual values of `id`? (Always, without an authorizer or in-process.) */
  mayReport(id: string, origin: MessageOrigin): boolean;
  /**
   * Resolves when every change applied so far is committed (answers must not overtake them).
   * With `id`, rejects (EDGETWIN_ERR_STORE_WRITE) if a change of that device still in flight
   * failed: an answer that found nothing to change was judged against that change, so it must
   * not be acknowledged either.
   */
  settled(id?: string): Promise<void>;
  /** Serialises and publishes; never throws (failures are logged). */
  publish(topic: string, message: BaseMessage): void;
}

/**
 * A change that was not committed (the store failed or is closing): the message that carried it
 * is refused, not acknowledged, so its sender sends it again (eventbus/bus.ts IngestHandler).
 */
export function notCommitted(error: EdgetwinError): boolean {
  return error.code === 'EDGETWIN_ERR_STORE_WRITE' || error.code === 'EDGETWIN_ERR_STORE_CLOSED';
}

export function errorResult(eventId: string, now: number, error: EdgetwinError, version?: number): ResultMessage {
  return {
    event_id: eventId,
    timestamp: now,
    code: error.status,
    reason: error.message,
    error_code: error.code,
    ...(error.details.length > 0 ? { errors: error.details } : {}),
    ...(version !== undefined ? { version } : {}),
  };
}
