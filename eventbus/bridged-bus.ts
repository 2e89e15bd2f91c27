// The twin's bus in `mqtt.mode: both`: the embedded broker serves the node's local clients, an
// external broker (mosquitto) serves the others, and the twin is on both. What flows where:
//
//   requests  (twin/update, twin/get, state/update, membership/get, ...): ingested from each
//             broker by the same handler, each acknowledged to the broker it came from after
//             commit. Never forwarded from one broker to the other.
//   answers   (results, deltas, documents, membership/updated): published by the twin on both,
//             so a mapper on either side sees the deltas of a desired value set on either side.
//   device data ($ke/events/device/<ns>/<name>/data/update): forwarded from the embedded
//             broker to the external one, where third-party apps read it; not the other way.
//
// Loops cannot form: edgetwin subscribes on the external broker only to request topics it
// ingests (never to an answer or data topic), and what it publishes there is answers and data.
// A publish through this bus to a request topic (the twin never makes one) goes to the
// embedded broker only, so it is ingested once.

import type { Logger } from 'pino';
import type { EmbeddedBroker } from './broker.js';
import type { IngestBus, IngestHandler, MessageHandler, Payload, PublishOptions, Subscription } from './bus.js';
import type { ExternalBus } from './external-bus.js';
import { FilterIndex } from './filter-index.js';
import { DATA_PREFIX } from './topics.js';

/** What is forwarded from the embedded broker to the external one. */
export const BRIDGED_TO_EXTERNAL = [`${DATA_PREFIX}+/+/data/update`] as const;

export interface BridgedBusOptions {
  readonly local: EmbeddedBroker;
  readonly remote: ExternalBus;
  readonly logger: Logger;
  /** QoS of forwarded device data on the external broker. */
  readonly forwardQos?: 0 | 1;
}

export class BridgedBus implements IngestBus {
  private readonly o: BridgedBusOptions;
  private readonly ingest = new FilterIndex<true>();
  private readonly forwards: Subscription[] = [];

  constructor(options: BridgedBusOptions) {
    this.o = options;
  }

  /** Starts forwarding device data; call once both buses are started. */
  async start(): Promise<void> {
    const { local, remote, logger } = this.o;
    for (const filter of BRIDGED_TO_EXTERNAL) {
      this.forwards.push(
        await local.subscribe(filter, (topic, payload) =>
          remote.publish(topic, payload, { qos: this.o.forwardQos ?? 0 }).catch((err: unknown) => logger.warn({ err, topic }, 'could not forward to the external broker')),
        ),
      );
    }
  }

  /** Stops forwarding (the buses themselves are closed by their owner). */
  async stop(): Promise<void> {
    await Promise.all(this.forwards.splice(0).map((s) => s.unsubscribe()));
  }

  handle(filter: string, handler: IngestHandler): Subscription {
    const local = this.o.local.handle(filter, handler);
    const remote = this.o.remote.handle(filter, handler);
    this.ingest.add(filter, true);
    let active = true;
    return {
      unsubscribe: async () => {
        if (!active) return;
        active = false;
        this.ingest.remove(filter, true);
        await Promise.all([local.unsubscribe(), remote.unsubscribe()]);
      },
    };
  }

  /** Local clients' malformed requests are answered by the embedded broker's admission; see ExternalBus.handleUnmatched for the remote side. */
  handleUnmatched(prefix: string, handler: IngestHandler): Subscription {
    const local = this.o.local.handleUnmatched(prefix, handler);
    const remote = this.o.remote.handleUnmatched(prefix, handler);
    return { unsubscribe: async () => void (await Promise.all([local.unsubscribe(), remote.unsubscribe()])) };
  }

  async publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<void> {
    if (this.ingest.match(topic).length > 0) return this.o.local.publish(topic, payload, options);
    await Promise.all([this.o.local.publish(topic, payload, options), this.o.remote.publish(topic, payload, options)]);
  }

  /** In-process subscribers listen on the embedded broker, where the twin's answers also appear. */
  subscribe(filter: string, handler: MessageHandler, options: { readonly qos?: 0 | 1 } = {}): Promise<Subscription> {
    return this.o.local.subscribe(filter, handler, options);
  }
}
