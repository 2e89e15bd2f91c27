// edgetwin's MQTT extension for history (docs/mqtt-api.md): a request on
// `$edgetwin/device/<ns>/<name>/history/get` is answered on `…/history/get/result`, with the
// request's `event_id`, as KubeEdge's `twin/get` is. Who may ask is the broker's ACL's business
// (eventbus/auth/acl.ts: app and above, never a mapper); this only answers.

import type { Logger } from 'pino';
import { toEdgetwinError } from '../errors.js';
import { errorResult, parseRequestMessage, type DeviceTwin, type HistoryResult, type ParseLimits } from '../devicetwin/index.js';
import { HISTORY_GET_FILTER, extensionTopic, parseTopic, type IngestBus, type Subscription } from '../eventbus/index.js';
import { parseHistoryParams } from './history-request.js';

/** The request's fields (all optional; docs/mqtt-api.md). */
export interface HistoryGetMessage {
  readonly event_id?: string;
  readonly timestamp?: number;
  readonly properties?: readonly string[] | string;
  readonly kinds?: readonly string[] | string;
  readonly since?: string | number;
  readonly until?: string | number;
  readonly step?: string | number;
}

/** The answer: the query's result, or KubeEdge's error shape (`code`, `reason`, `error_code`). */
export type HistoryGetResult = { readonly event_id: string; readonly timestamp: number } & HistoryResult;

export interface HistoryResponderOptions {
  readonly bus: IngestBus;
  readonly twin: DeviceTwin;
  readonly logger: Logger;
  readonly limits?: ParseLimits;
  readonly clock?: () => number;
}

export class HistoryResponder {
  readonly #o: HistoryResponderOptions;
  #subscription: Subscription | undefined;

  constructor(options: HistoryResponderOptions) {
    this.#o = options;
  }

  start(): void {
    this.#subscription ??= this.#o.bus.handle(HISTORY_GET_FILTER, (topic, payload) => this.#answer(topic, payload));
  }

  async stop(): Promise<void> {
    const sub = this.#subscription;
    this.#subscription = undefined;
    await sub?.unsubscribe();
  }

  async #answer(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseTopic(topic);
    if (parsed?.scope !== 'edgetwin' || parsed.kind !== 'history/get') return;
    const answer = extensionTopic(parsed.namespace, parsed.name, 'history/get/result');
    const now = this.#now();
    const request = parseRequestMessage(payload, this.#o.limits);
    if (!request.ok) return this.#publish(answer, errorResult(request.eventId, now, request.error));
    const { eventId, body } = request.value;
    try {
      const params = { properties: body.properties, kinds: body.kinds, since: body.since, until: body.until, step: body.step };
      const result = await this.#o.twin.history(parsed.id, parseHistoryParams(params, now));
      const message: HistoryGetResult = { event_id: eventId, timestamp: this.#now(), ...result };
      await this.#publish(answer, message);
    } catch (err) {
      await this.#publish(answer, errorResult(eventId, this.#now(), toEdgetwinError(err)));
    }
  }

  async #publish(topic: string, message: object): Promise<void> {
    try {
      await this.#o.bus.publish(topic, JSON.stringify(message));
    } catch (err) {
      this.#o.logger.warn({ err, topic }, 'could not publish a history answer');
    }
  }

  #now(): number {
    return this.#o.clock ? this.#o.clock() : Date.now();
  }
}
