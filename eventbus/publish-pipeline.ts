// aedes's authorizePublish hook: what happens to a client's PUBLISH before it is acknowledged,
// and in which order. Moved out of broker.ts, which wires sockets; admission.ts holds the
// policy (authorizers, ingest handlers) this runs.
//
// aedes 1.2 (lib/handlers/publish.js) runs authorizePublish, then writes the QoS 1 PUBACK (or
// stores a QoS 2 message and writes PUBREC), then publishes. Calling `done` only after the
// ingest handlers settle is what makes a PUBACK mean "committed". aedes hands every packet of
// one socket read to its handlers at once, so each client's publishes are ordered here:
// handlers start in arrival order, and acknowledgements go out in that order too
// [MQTT-4.6.0-2]. Without authorizers a handler starts synchronously; with them, each
// message's authorizers wait for the previous message's authorizers (not for its commit), so
// a burst still reaches the store together and is committed as one group. A denial makes aedes
// close the connection, which is one of the two answers MQTT 3.1.1 allows [MQTT-3.3.5-2] (the
// other, ack-and-drop, aedes lacks).

import type { Client, PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { edgetwinError } from '../errors.js';
import type { Admission, ClientInfo } from './admission.js';
import type { MessageOrigin } from './bus.js';
import type { RetainedLedger } from './caps.js';
import type { LogGate } from './log-fields.js';
import { logSafe } from './log-fields.js';
import { hasNul, type Sender, type TopicGuard } from './topic-guard.js';

/** aedes's default rule, kept when we replace its authorizePublish (aedes #597). */
const SYS_PREFIX = '$SYS/';

/** The part of aedes's persistence that holds QoS 2 messages received and not yet released (PUBREL). */
export interface IncomingStore {
  incomingGetPacket(client: Client, packet: { readonly messageId: number }): Promise<unknown>;
}

export interface PublishPipelineOptions {
  readonly admission: Admission;
  readonly retained: RetainedLedger;
  readonly log: Logger;
  readonly logGate: LogGate;
  readonly maxInflight: number | undefined;
  readonly infoOf: (client: Client) => ClientInfo;
  readonly originFor: (client: Client) => MessageOrigin;
  /** aedes's persistence, once the broker has started. */
  readonly incoming: () => IncomingStore | undefined;
  /** The topic rules every publish obeys first: no U+0000, nothing retained under `$hw/` (topic-guard.ts). */
  readonly guard: TopicGuard;
  readonly senderOf: (client: Client | null) => Sender | undefined;
  /** Tells a client why its publish was refused, then calls `then`, which closes the connection (denial.ts). */
  readonly answerDenial: (client: Client, topic: string, payload: Buffer, denial: Error, then: () => void) => void;
}

/** A QoS 2 message seen on this connection and not yet surely stored by aedes. */
interface Qos2Entry {
  /** Resolves once aedes has stored it (or refused it), so a copy is answered PUBREC alone. */
  readonly stored: Promise<void>;
  readonly settle: () => void;
}

interface Duplicate {
  readonly duplicateOf: Promise<void>;
}

type Verdict = Error | undefined | Duplicate;

export class PublishPipeline {
  readonly counters = { messagesIn: 0, inflightExceeded: 0, qos2Duplicates: 0 };
  /** Messages from MQTT clients admitted and not yet acknowledged. */
  inflightTotal = 0;
  private readonly o: PublishPipelineOptions;
  /** Per client, the tail of its acknowledgements. */
  private readonly tails = new WeakMap<Client, Promise<Error | undefined>>();
  /** Per client, the tail of its authorizer runs. */
  private readonly gates = new WeakMap<Client, Promise<Verdict>>();
  /** Per client, messages admitted and not yet acknowledged. */
  private readonly inflight = new WeakMap<Client, number>();
  /** Per client, QoS 2 packet ids in the window before aedes has stored them. */
  private readonly qos2 = new WeakMap<Client, Map<number, Qos2Entry>>();

  constructor(options: PublishPipelineOptions) {
    this.o = options;
  }

  readonly authorizePublish = (client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void => {
    const { admission } = this.o;
    const topic = packet.topic;
    if (topic.startsWith(SYS_PREFIX)) return done(new Error(`${SYS_PREFIX} topic is reserved`));
    if (hasNul(topic)) return done(this.o.guard.nulRefusal(topic, this.o.senderOf(client)));
    // Wills too: aedes authorizes them here before publishing them.
    if (packet.retain && !this.o.guard.mayRetain(topic, this.o.senderOf(client))) packet.retain = false;
    this.counters.messagesIn++;
    const reservation = packet.retain ? this.o.retained.reserve(topic, payloadLength(packet.payload)) : undefined;
    const refusal = reservation instanceof Error ? reservation : undefined;
    if (refusal) this.o.logGate.log(this.o.log, 'info', client?.id ?? '', { code: refusal.code, clientId: client?.id, topic }, refusal.message);
    const retained = reservation instanceof Error ? undefined : reservation;
    if (!client) {
      if (refusal) return done(refusal);
      admission
        .admitPublish(undefined, topic, toBuffer(packet.payload))
        .then((denial) => {
          if (denial) retained?.cancel();
          done(denial ?? null);
        })
        .catch((err: unknown) => this.o.log.error({ err, topic }, 'publish admission failed'));
      return;
    }
    const tail = this.tails.get(client);
    const gate = this.gates.get(client);
    const id = packet.qos === 2 ? packet.messageId : undefined;
    if (!refusal && tail === undefined && gate === undefined && id === undefined && admission.isFree(topic)) return done(null);
    const pending = this.inflight.get(client) ?? 0;
    if (this.o.maxInflight !== undefined && pending >= this.o.maxInflight) {
      retained?.cancel();
      return done(this.inflightExceeded(client, pending));
    }
    this.inflight.set(client, pending + 1);
    this.inflightTotal++;
    const own = id === undefined ? undefined : this.enterQos2(client, id);

    let started: Promise<Verdict>;
    if (refusal) {
      started = Promise.resolve(refusal);
    } else if (gate === undefined && id === undefined && admission.hasNoPublishAuthorizers()) {
      started = admission.runIngest(topic, toBuffer(packet.payload), this.o.originFor(client));
    } else {
      const info = this.o.infoOf(client);
      const earlier = own?.duplicateOf;
      const checked: Promise<Verdict> = (gate ?? Promise.resolve(undefined)).then(async () => {
        if (earlier) return { duplicateOf: earlier };
        if (id !== undefined && (await this.storedByAedes(client, id))) return { duplicateOf: Promise.resolve() };
        return admission.authorizePublish(info, topic);
      });
      this.gates.set(client, checked);
      void checked.then(() => {
        if (this.gates.get(client) === checked) this.gates.delete(client);
      });
      started = checked.then(async (verdict) => {
        if (verdict instanceof Error) return verdict;
        if (verdict !== undefined) {
          // [MQTT-4.3.3-2]: until PUBREL, a PUBLISH with the same packet id is acknowledged
          // (aedes sends PUBREC on finding it stored) and not delivered again: not ingested.
          this.counters.qos2Duplicates++;
          await verdict.duplicateOf;
          return verdict;
        }
        // A coded refusal (bus.ts: its commit failed) is not acknowledged: the client resends.
        return admission.runIngest(topic, toBuffer(packet.payload), this.o.originFor(client));
      });
    }
    // Only the acknowledgements are chained, to keep their order.
    const run: Promise<Verdict> = tail ? Promise.all([tail, started]).then(([, verdict]) => verdict) : started;
    const acked = run.then((verdict) => (verdict instanceof Error ? verdict : undefined));
    this.tails.set(client, acked);
    run
      .then((verdict) => {
        if (this.tails.get(client) === acked) this.tails.delete(client);
        this.inflight.set(client, (this.inflight.get(client) ?? 1) - 1);
        this.inflightTotal--;
        if (verdict !== undefined) retained?.cancel();
        if (verdict instanceof Error) this.o.answerDenial(client, topic, toBuffer(packet.payload), verdict, () => done(verdict));
        else done(null);
        // aedes stores an admitted QoS 2 message in microtasks after `done` (in-memory
        // aedes-persistence, lib/handlers/publish.js): from the next macrotask on it finds a
        // copy stored, and this connection's window for the id can close.
        const entry = own?.entry;
        if (entry) setImmediate(() => this.leaveQos2(client, id, entry));
      })
      .catch((err: unknown) => this.o.log.error({ err, topic }, 'publish admission failed'));
  };

  /** Logged and counted here; the caller refuses the publish, which disconnects the client. */
  private inflightExceeded(client: Client, pending: number): Error {
    this.counters.inflightExceeded++;
    const err = edgetwinError(
      'EDGETWIN_ERR_LIMIT_INFLIGHT',
      `client ${logSafe(client.id)} has ${pending} messages awaiting acknowledgement (mqtt.limits.maxInflightPerClient); disconnected`,
    );
    this.o.logGate.log(this.o.log, 'warn', client.id, { code: err.code, clientId: client.id, remoteAddress: this.o.infoOf(client).remoteAddress }, err.message);
    return err;
  }

  /** A QoS 2 id arriving: either a copy of one still in the window, or the window's new entry. */
  private enterQos2(client: Client, id: number): { duplicateOf?: Promise<void>; entry?: Qos2Entry } {
    let window = this.qos2.get(client);
    if (!window) this.qos2.set(client, (window = new Map<number, Qos2Entry>()));
    const earlier = window.get(id);
    if (earlier) return { duplicateOf: earlier.stored };
    let settle!: () => void;
    const stored = new Promise<void>((resolve) => (settle = resolve));
    const entry = { stored, settle };
    window.set(id, entry);
    return { entry };
  }

  private leaveQos2(client: Client, id: number | undefined, entry: Qos2Entry): void {
    entry.settle();
    const window = this.qos2.get(client);
    if (id !== undefined && window?.get(id) === entry) window.delete(id);
  }

  /** True if aedes holds a QoS 2 message with this id for this client id (sent before, maybe on an earlier connection of a persistent session). */
  private async storedByAedes(client: Client, id: number): Promise<boolean> {
    const store = this.o.incoming();
    if (!store) return false;
    return store.incomingGetPacket(client, { messageId: id }).then(
      () => true,
      () => false,
    );
  }
}

/** Payloads arrive as Buffers from clients; in-process wills may carry strings. */
export function toBuffer(payload: string | Buffer): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}

function payloadLength(payload: string | Buffer): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
}
