// What happens to a message before the broker acknowledges it: the authorizers (ordered, empty
// by default; auth/ACL plugs in here), then the ingest handlers that own its topic. The
// embedded broker runs this inside aedes's authorizePublish hook for MQTT clients and before
// aedes.publish for in-process publishes. Kept apart from the broker so the policy reads in one
// place and the broker file only wires sockets.

import type { Logger } from 'pino';
import { edgetwinError, isEdgetwinError, type EdgetwinError } from '../errors.js';
import { LogGate } from './log-fields.js';
import type { IngestHandler, MessageOrigin, Subscription } from './bus.js';
import { FilterIndex } from './filter-index.js';
import { isValidTopicFilter } from './topics.js';

/** Who is asking, as far as the broker knows after CONNECT. */
export interface ClientInfo {
  readonly clientId: string;
  /** The CONNECT username, if any; with an authenticator (eventbus/auth), the user it verified. */
  readonly username?: string;
  readonly remoteAddress?: string;
}

/**
 * Decides whether `client` may publish to `topic` (or subscribe to a filter). Resolve to allow;
 * throw (preferably an EdgetwinError) to deny. Runs for MQTT clients only: in-process code is
 * trusted.
 */
export type PublishAuthorizer = (client: ClientInfo, topic: string) => void | Promise<void>;
export type SubscribeAuthorizer = (client: ClientInfo, filter: string) => void | Promise<void>;
/**
 * Decides, synchronously, whether a message on `topic` may still be delivered to `client`
 * (live, or queued for its persistent session): its rights may have shrunk since it subscribed.
 */
export type ForwardAuthorizer = (client: ClientInfo, topic: string) => boolean;

export interface AdmissionCounters {
  /** Ingest handler calls. */
  ingested: number;
  /** Ingest handler calls that threw or rejected unexpectedly (the message was acknowledged anyway). */
  ingestFailures: number;
  /** Messages an ingest handler could not take (a coded rejection, e.g. a failed commit): not acknowledged. */
  unacknowledged: number;
  /** Publishes and subscriptions refused by an authorizer. */
  denied: number;
}

/** The ordered authorizer lists and the ingest filter index, shared by both publish paths. */
export class Admission {
  readonly counters: AdmissionCounters = { ingested: 0, ingestFailures: 0, unacknowledged: 0, denied: 0 };
  private readonly ingest = new FilterIndex<IngestHandler>();
  /** Per prefix, the handler of client messages under it that no ingest filter owns. */
  private readonly unmatched = new Map<string, IngestHandler>();
  private readonly publishAuthorizers: PublishAuthorizer[] = [];
  private readonly subscribeAuthorizers: SubscribeAuthorizer[] = [];
  private readonly forwardAuthorizers: ForwardAuthorizer[] = [];
  private readonly log: Logger;
  private readonly logGate: LogGate;

  /** `logGate`: the budget for lines clients provoke (a denial per filter adds up fast). */
  constructor(log: Logger, logGate = new LogGate()) {
    this.log = log;
    this.logGate = logGate;
  }

  /** True if nothing can stop or delay a client's publish to `topic` (the hot path's fast exit). */
  isFree(topic: string): boolean {
    return this.publishAuthorizers.length === 0 && this.ingest.match(topic).length === 0 && this.unmatchedHandler(topic) === undefined;
  }

  /** True if no publish authorizer is registered: ingest can start without awaiting anything. */
  hasNoPublishAuthorizers(): boolean {
    return this.publishAuthorizers.length === 0;
  }

  hasSubscribeAuthorizers(): boolean {
    return this.subscribeAuthorizers.length > 0;
  }

  /** Registers the ingest handler for `filter`; at most one per filter. */
  handle(filter: string, handler: IngestHandler): Subscription {
    if (!isValidTopicFilter(filter)) {
      throw edgetwinError('EDGETWIN_ERR_TOPIC_INVALID', `Not a valid MQTT topic filter: ${JSON.stringify(filter)}.`);
    }
    if (this.ingest.has(filter)) {
      throw edgetwinError('EDGETWIN_ERR_INTERNAL', `An ingest handler already owns ${filter}.`);
    }
    this.ingest.add(filter, handler);
    return {
      unsubscribe: () => {
        this.ingest.remove(filter, handler);
        return Promise.resolve();
      },
    };
  }

  /**
   * Registers the handler for MQTT client messages under `prefix` that no ingest filter
   * matches (the twin answers `$hw/events/device/...` topics it cannot serve, devicetwin/
   * handlers/invalid.ts). In-process publishes never reach it: they are trusted, and answers
   * published under the same prefix must not be handled as requests.
   */
  handleUnmatched(prefix: string, handler: IngestHandler): Subscription {
    if (this.unmatched.has(prefix)) throw edgetwinError('EDGETWIN_ERR_INTERNAL', `A handler already owns unmatched topics under ${prefix}.`);
    this.unmatched.set(prefix, handler);
    return {
      unsubscribe: () => {
        if (this.unmatched.get(prefix) === handler) this.unmatched.delete(prefix);
        return Promise.resolve();
      },
    };
  }

  /** Appends a publish authorizer; returns its remover. */
  addPublishAuthorizer(authorizer: PublishAuthorizer): () => void {
    return addTo(this.publishAuthorizers, authorizer);
  }

  /** Appends a subscribe authorizer; returns its remover. */
  addSubscribeAuthorizer(authorizer: SubscribeAuthorizer): () => void {
    return addTo(this.subscribeAuthorizers, authorizer);
  }

  /** Appends a forward authorizer; returns its remover. */
  addForwardAuthorizer(authorizer: ForwardAuthorizer): () => void {
    return addTo(this.forwardAuthorizers, authorizer);
  }

  hasForwardAuthorizers(): boolean {
    return this.forwardAuthorizers.length > 0;
  }

  /** True if every forward authorizer lets `client` receive a message on `topic`; one that throws says no. */
  mayForward(client: ClientInfo, topic: string): boolean {
    for (const authorizer of this.forwardAuthorizers) {
      try {
        if (!authorizer(client, topic)) return false;
      } catch (err) {
        this.log.error({ err, clientId: client.clientId, topic }, 'forward authorizer failed; message not delivered');
        return false;
      }
    }
    return true;
  }

  /**
   * Runs the publish authorizers (for an MQTT client), then the matching ingest handlers.
   * Resolves to the denial or the handlers' refusal, or undefined once every handler has
   * settled. Never rejects.
   */
  async admitPublish(client: ClientInfo | undefined, topic: string, payload: Buffer): Promise<Error | undefined> {
    if (client !== undefined) {
      const denial = await this.authorizePublish(client, topic);
      if (denial) return denial;
    }
    return this.runIngest(topic, payload, client === undefined ? NO_ORIGIN : originOf(client));
  }

  /** Runs the publish authorizers only; resolves to the denial or undefined. Never rejects. */
  authorizePublish(client: ClientInfo, topic: string): Promise<Error | undefined> {
    return this.authorize(this.publishAuthorizers, client, topic, 'publish');
  }

  /** Runs the subscribe authorizers; resolves to the denial or undefined. Never rejects. */
  admitSubscribe(client: ClientInfo, filter: string): Promise<Error | undefined> {
    return this.authorize(this.subscribeAuthorizers, client, filter, 'subscribe');
  }

  /**
   * Runs the ingest handlers matching `topic` in registration order, or for a client message
   * that none matches, the unmatched handler of its prefix. Resolves to the coded error of a
   * handler that could not take the message (it must not be acknowledged), else undefined;
   * logs, never rejects.
   */
  async runIngest(topic: string, payload: Buffer, origin: MessageOrigin): Promise<EdgetwinError | undefined> {
    const handlers = this.ingest.match(topic);
    if (handlers.length === 0 && origin.clientId !== undefined) {
      const fallback = this.unmatchedHandler(topic);
      return fallback ? this.runOne(fallback, topic, payload, origin) : undefined;
    }
    for (const handler of handlers) {
      const refusal = await this.runOne(handler, topic, payload, origin);
      if (refusal) return refusal;
    }
    return undefined;
  }

  private async runOne(handler: IngestHandler, topic: string, payload: Buffer, origin: MessageOrigin): Promise<EdgetwinError | undefined> {
    this.counters.ingested++;
    try {
      await handler(topic, payload, origin);
    } catch (err) {
      if (isEdgetwinError(err)) {
        // bus.ts: not taken (its commit failed); the sender must send it again.
        this.counters.unacknowledged++;
        this.log.warn({ code: err.code, topic, clientId: origin.clientId }, `message not acknowledged: ${err.message}`);
        return err;
      }
      // bus.ts: a handler answers bad input itself; anything else is a bug. The message is
      // acknowledged anyway so one bad message never stalls a client.
      this.counters.ingestFailures++;
      this.log.error({ err, topic, clientId: origin.clientId }, 'ingest handler failed; message acknowledged anyway');
    }
    return undefined;
  }

  private unmatchedHandler(topic: string): IngestHandler | undefined {
    if (this.unmatched.size === 0) return undefined;
    for (const [prefix, handler] of this.unmatched) if (topic.startsWith(prefix)) return handler;
    return undefined;
  }

  hasIngest(topic: string): boolean {
    return this.ingest.match(topic).length > 0;
  }

  private async authorize(
    list: readonly ((client: ClientInfo, topic: string) => void | Promise<void>)[],
    client: ClientInfo,
    topic: string,
    action: 'publish' | 'subscribe',
  ): Promise<Error | undefined> {
    for (const authorizer of list) {
      try {
        await authorizer(client, topic);
      } catch (err) {
        this.counters.denied++;
        const denial = err instanceof Error ? err : new Error(String(err));
        // A coded denial is the policy at work: its code and reason, cut short (it may quote
        // the topic). Anything else is a bug in an authorizer: the whole error.
        const fields = isEdgetwinError(err)
          ? { err: { code: err.code, message: err.message.length > 300 ? `${err.message.slice(0, 300)}…` : err.message }, clientId: client.clientId, topic }
          : { err: denial, clientId: client.clientId, topic };
        this.logGate.log(this.log, isEdgetwinError(err) ? 'info' : 'error', client.clientId, fields, `${action} denied`);
        return denial;
      }
    }
    return undefined;
  }
}

const NO_ORIGIN: MessageOrigin = Object.freeze({});

/** What an ingest handler learns of an MQTT client: its id and authenticated user, not its address. */
export function originOf(client: ClientInfo): MessageOrigin {
  return client.username === undefined ? { clientId: client.clientId } : { clientId: client.clientId, username: client.username };
}

function addTo<T>(list: T[], item: T): () => void {
  list.push(item);
  return () => {
    const at = list.indexOf(item);
    if (at >= 0) list.splice(at, 1);
  };
}
