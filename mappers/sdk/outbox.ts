// What a device worker has reported and the twin has not yet acknowledged. A QoS 1 publish
// rejects when the broker did not take it (eventbus/mqtt-bus.ts: the embedded broker closes the
// connection instead of PUBACKing an update it could not commit; an in-process publish rejects
// the same way), and a reading must not be lost because the edge's disk was full for a while.
// The outbox keeps the latest entry per property (a newer reading replaces an older unsent
// one; an ack stays with it) and the latest availability, and sends them again with backoff
// until they are acknowledged. Bounded: one entry per property of the device, plus its state.

import type { Logger } from 'pino';
import { toEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { MsgTwin } from '../../wire/index.js';
import { backoffMs, type BackoffOptions } from './policy.js';

export type TwinEntry = MsgTwin;

export interface ReportOutboxOptions {
  /** Publishes a `twin/update` with these entries; resolves once the twin acknowledged it. */
  readonly sendTwin: (twin: Readonly<Record<string, TwinEntry>>) => Promise<void>;
  /** Publishes a `state/update`; resolves once acknowledged. */
  readonly sendState: (state: 'online' | 'offline') => Promise<void>;
  readonly backoff: BackoffOptions;
  readonly logger: Logger;
}

export class ReportOutbox {
  private readonly o: ReportOutboxOptions;
  private twin = new Map<string, TwinEntry>();
  private state: 'online' | 'offline' | undefined;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(options: ReportOutboxOptions) {
    this.o = options;
  }

  /** Entries waiting to be sent (those of a send in flight are not counted until it fails). */
  get pending(): number {
    return this.twin.size + (this.state === undefined ? 0 : 1);
  }

  /** Queues twin entries (merged into any unsent entry of the same property) and sends them. */
  putTwin(entries: Readonly<Record<string, TwinEntry>>): void {
    for (const [name, entry] of Object.entries(entries)) this.twin.set(name, { ...this.twin.get(name), ...entry });
    this.kick();
  }

  /** Queues the device's availability (the latest wins) and sends it. */
  putState(state: 'online' | 'offline'): void {
    this.state = state;
    this.kick();
  }

  /** Stops sending; what is unsent is dropped (the worker is going away). */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private kick(): void {
    if (this.closed || this.flushing || this.timer !== undefined) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
    });
  }

  private async flush(): Promise<void> {
    while (!this.closed && this.pending > 0) {
      // State and twin are tried each round, so a refusal of one does not hold the other back.
      const stateFailure = await this.sendState();
      const failure = (await this.sendTwin()) ?? stateFailure;
      if (failure === undefined) {
        if (this.failures > 0) this.o.logger.info({ attempts: this.failures + 1 }, 'reports the twin had not acknowledged are delivered');
        this.failures = 0;
        continue;
      }
      this.failures++;
      const delay = backoffMs(this.failures, this.o.backoff);
      const level = this.failures === 1 ? 'warn' : 'debug';
      this.o.logger[level]({ code: failure.code, attempt: this.failures, retryInMs: delay }, `report not acknowledged, kept and sent again: ${failure.message}`);
      if (this.closed) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, delay);
      return;
    }
  }

  /** Sends the pending state, if any; resolves to the failure. */
  private async sendState(): Promise<EdgetwinError | undefined> {
    const state = this.state;
    if (state === undefined) return undefined;
    try {
      await this.o.sendState(state);
      if (this.state === state) this.state = undefined;
      return undefined;
    } catch (err) {
      return toEdgetwinError(err); // still pending
    }
  }

  /** Sends the pending twin entries whole, if any; resolves to the failure (they are kept). */
  private async sendTwin(): Promise<EdgetwinError | undefined> {
    const twin = this.twin;
    if (twin.size === 0) return undefined;
    // Entries put meanwhile go to a fresh map and are sent next round.
    this.twin = new Map();
    try {
      await this.o.sendTwin(Object.fromEntries(twin));
      return undefined;
    } catch (err) {
      // Not taken: put back, under anything newer for the same property.
      for (const [name, entry] of twin) this.twin.set(name, { ...entry, ...this.twin.get(name) });
      return toEdgetwinError(err);
    }
  }
}
