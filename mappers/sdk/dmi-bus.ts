// The bus a mapper's workers run on under DMI: a small in-memory Bus (eventbus/bus.ts) whose
// far side is not a broker but the DMI transport (dmi-transport.ts). The workers are unchanged:
// what they publish on KubeEdge's topics becomes DMI calls to edgecore, and what edgecore sends
// (a desired value in UpdateDevice) reaches them as the delta they would get over MQTT.
//   twin/update  → ReportDeviceStatus          state/update → ReportDeviceStates
//   twin/get     → answered here, from the Device edgecore sent (its desired values)
//   twin/update/delta, twin/get/result ← delivered here to the workers that subscribed

import type { Logger } from 'pino';
import { parseTopic, topicMatches, deviceTopic, type Bus, type MessageHandler, type Payload, type Subscription } from '../../eventbus/index.js';

/** One property of a worker's `twin/update` (mappers/sdk/worker.ts writes these). */
export interface WorkerTwin {
  readonly actual?: { readonly value?: string };
  readonly metadata?: { readonly type?: string };
  readonly ack?: { readonly state?: string; readonly value?: string; readonly code?: string; readonly reason?: string };
}

export interface DmiBusSink {
  twinUpdate(namespace: string, name: string, twin: Readonly<Record<string, WorkerTwin>>): void;
  state(namespace: string, name: string, state: string): void;
  /** What `twin/get` answers for the device: its desired values and last readings. */
  snapshot(namespace: string, name: string): Record<string, { expected?: { value: string }; actual?: { value: string } }>;
}

export class DmiBus implements Bus {
  private readonly subs = new Map<number, { readonly filter: string; readonly handler: MessageHandler }>();
  private nextId = 0;

  constructor(
    private readonly sink: DmiBusSink,
    private readonly logger: Logger,
  ) {}

  publish(topic: string, payload: Payload): Promise<void> {
    const parsed = parseTopic(topic);
    if (parsed?.scope !== 'device') return Promise.resolve();
    let msg: { event_id?: unknown; twin?: unknown; state?: unknown };
    try {
      msg = JSON.parse(payload.toString()) as typeof msg;
    } catch {
      return Promise.resolve();
    }
    const { namespace, name } = parsed;
    switch (parsed.kind) {
      case 'twin/update':
        if (typeof msg.twin === 'object' && msg.twin !== null) this.sink.twinUpdate(namespace, name, msg.twin as Record<string, WorkerTwin>);
        break;
      case 'state/update':
        if (typeof msg.state === 'string') this.sink.state(namespace, name, msg.state);
        break;
      case 'twin/get':
        this.deliver(deviceTopic(namespace, name, 'twin/get/result'), { event_id: msg.event_id ?? '', timestamp: Date.now(), twin: this.sink.snapshot(namespace, name) });
        break;
      default:
        break;
    }
    return Promise.resolve();
  }

  subscribe(filter: string, handler: MessageHandler): Promise<Subscription> {
    const id = this.nextId++;
    this.subs.set(id, { filter, handler });
    return Promise.resolve({ unsubscribe: () => Promise.resolve(void this.subs.delete(id)) });
  }

  /** Hands a message to the workers subscribed to `topic`, after the current turn (never re-entrant). */
  deliver(topic: string, message: object): void {
    const payload = Buffer.from(JSON.stringify(message));
    queueMicrotask(() => {
      for (const { filter, handler } of this.subs.values()) {
        if (!topicMatches(filter, topic)) continue;
        try {
          const r = handler(topic, payload, {});
          if (r instanceof Promise) r.catch((err: unknown) => this.logger.error({ err, topic }, 'subscriber failed'));
        } catch (err) {
          this.logger.error({ err, topic }, 'subscriber failed');
        }
      }
    });
  }
}
