// A typed client of the twin's MQTT API, over any Bus (an MQTT connection or the in-process
// bus). Used by the CLI and by mappers; apps can use it too. Requests carry a fresh event_id
// and wait for the answer that echoes it.

import { randomUUID } from 'node:crypto';
import { ERROR_CODES, edgetwinError, type ErrorCode } from '../errors.js';
import { deviceTopic, extensionTopic, parseDeviceId, type Bus, type DeviceTopicKind, type Subscription } from '../eventbus/index.js';
import { TWIN_KEY } from '../schemas/index.js';
import type { HistoryResult } from './history.js';
import type { DeviceTwinDelta, DeviceTwinDocument, DeviceTwinResult, MsgTwin, ResultMessage } from './wire.js';

/** A history request of edgetwin's MQTT extension (docs/mqtt-api.md); times and the step as the server parses them. */
export interface HistoryGetRequest {
  readonly properties?: readonly string[];
  readonly kinds?: readonly string[];
  /** ISO 8601, ms since the epoch, a duration ago (`1h`) or `now`. */
  readonly since?: string | number;
  readonly until?: string | number;
  /** `1m`, `10s`, or ms. */
  readonly step?: string | number;
}

export interface TwinClientOptions {
  /** How long to wait for an answer (default 5000 ms). */
  readonly timeoutMs?: number;
}

export type TwinEvent =
  | { readonly kind: 'document'; readonly message: DeviceTwinDocument }
  | { readonly kind: 'delta'; readonly message: DeviceTwinDelta }
  | { readonly kind: 'result'; readonly message: DeviceTwinResult | ResultMessage };

function isErrorResult(m: unknown): m is ResultMessage {
  return typeof m === 'object' && m !== null && typeof (m as { code?: unknown }).code === 'number';
}

const TWIN_KEY_RE = new RegExp(TWIN_KEY);

function splitId(id: string): { namespace: string; name: string } {
  const parsed = parseDeviceId(id);
  if (!parsed) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `"${id}" is not a device id: use <namespace>/<name> (DNS-1123 names)`);
  return parsed;
}

export class TwinClient {
  private readonly bus: Bus;
  private readonly timeoutMs: number;

  constructor(bus: Bus, opts: TwinClientOptions = {}) {
    this.bus = bus;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** `twin/get` → the device's twins. Throws the coded error of an error answer. */
  async get(id: string): Promise<DeviceTwinResult> {
    const { namespace, name } = splitId(id);
    return this.request(deviceTopic(namespace, name, 'twin/get'), deviceTopic(namespace, name, 'twin/get/result'), {});
  }

  /** `$edgetwin/device/<id>/history/get` → the device's history (an edgetwin extension). */
  async history(id: string, request: HistoryGetRequest = {}): Promise<HistoryResult> {
    const { namespace, name } = splitId(id);
    return this.request(extensionTopic(namespace, name, 'history/get'), extensionTopic(namespace, name, 'history/get/result'), request);
  }

  /** `twin/update` → the update result. */
  async update(id: string, twin: Record<string, MsgTwin | null>, version?: number): Promise<DeviceTwinResult> {
    const { namespace, name } = splitId(id);
    // A key outside KubeEdge's regex is answered anonymously, with event_id "" (handlers/update.ts):
    // no answer would echo this request's id, so refuse it here instead of timing out.
    const bad = Object.keys(twin).filter((k) => !TWIN_KEY_RE.test(k));
    if (bad.length > 0) {
      const details = bad.map((k) => ({ path: k, code: 'EDGETWIN_ERR_PROPERTY_NAME' as const, message: 'twin keys must match ^[a-zA-Z0-9-_.,:/@#]{1,128}$' }));
      throw edgetwinError('EDGETWIN_ERR_PROPERTY_NAME', `update rejected: ${bad.map((k) => `"${k}"`).join(', ')}: twin keys must match ^[a-zA-Z0-9-_.,:/@#]{1,128}$`, details);
    }
    return this.request(deviceTopic(namespace, name, 'twin/update'), deviceTopic(namespace, name, 'twin/update/result'), { twin, ...(version !== undefined ? { version } : {}) });
  }

  /** Sets desired (expected) values, e.g. `{ setpoint: '21' }`. */
  setDesired(id: string, values: Record<string, string>): Promise<DeviceTwinResult> {
    const twin: Record<string, MsgTwin> = {};
    for (const [k, v] of Object.entries(values)) twin[k] = { expected: { value: v } };
    return this.update(id, twin);
  }

  /** Reports actual values, as a mapper does. */
  reportActual(id: string, values: Record<string, string>): Promise<DeviceTwinResult> {
    const twin: Record<string, MsgTwin> = {};
    for (const [k, v] of Object.entries(values)) twin[k] = { actual: { value: v } };
    return this.update(id, twin);
  }

  /** Streams a device's documents, deltas and update results until the subscription is removed. */
  async watch(id: string, onEvent: (e: TwinEvent) => void): Promise<Subscription> {
    const { namespace, name } = splitId(id);
    const kinds: Array<[DeviceTopicKind, TwinEvent['kind']]> = [
      ['twin/update/document', 'document'],
      ['twin/update/delta', 'delta'],
      ['twin/update/result', 'result'],
    ];
    const subs = await Promise.all(
      kinds.map(([kind, event]) =>
        this.bus.subscribe(deviceTopic(namespace, name, kind), (_topic, payload) => {
          const message = JSON.parse(payload.toString('utf8')) as never;
          onEvent({ kind: event, message });
        }),
      ),
    );
    return { unsubscribe: async () => void (await Promise.all(subs.map((s) => s.unsubscribe()))) };
  }

  private async request<T>(topic: string, answer: string, body: object): Promise<T> {
    const eventId = randomUUID();
    let settle!: { resolve: (v: T) => void; reject: (e: unknown) => void };
    const done = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
    // The answer can arrive before the publish resolves (edgetwin answers before its PUBACK):
    // an error answer then rejects `done` before it is awaited, which must not count as unhandled.
    // It may also be settled by the timer while nothing awaits it yet (the subscribe below).
    done.catch(() => undefined);
    const sub = await this.bus.subscribe(
      answer,
      (_topic, payload) => {
        let message: unknown;
        try {
          message = JSON.parse(payload.toString('utf8'));
        } catch {
          return;
        }
        if ((message as { event_id?: unknown }).event_id !== eventId) return;
        if (isErrorResult(message)) {
          // The answer comes from the wire: trust its code only if it is one we know.
          const code: ErrorCode = typeof message.error_code === 'string' && message.error_code in ERROR_CODES ? message.error_code : 'EDGETWIN_ERR_INTERNAL';
          settle.reject(edgetwinError(code, message.reason, message.errors ?? []));
        } else settle.resolve(message as T);
      },
      { qos: 1 },
    );
    const timer = setTimeout(() => {
      settle.reject(edgetwinError('EDGETWIN_ERR_TIMEOUT', `no answer on ${answer} within ${this.timeoutMs} ms: is edgetwin running and the device bound?`));
    }, this.timeoutMs);
    try {
      const message = { event_id: eventId, timestamp: Date.now(), ...body };
      // The answer may come before the PUBACK, or instead of it: a broker that denies the publish
      // answers on the result topic and closes the connection (eventbus/denial.ts), and mqtt.js
      // then holds the publish to resend it. So the answer (or the timeout) decides, and a
      // publish that fails first is the error.
      const sent = this.bus.publish(topic, JSON.stringify(message), { qos: 1 });
      sent.catch(() => undefined); // still pending when the answer wins: its later failure is moot
      await Promise.race([sent, done]);
      return await done;
    } finally {
      clearTimeout(timer);
      await sub.unsubscribe();
    }
  }
}
