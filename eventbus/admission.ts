// What happens to a message before the broker acknowledges it: the authorizers (ordered, empty
// by default; auth/ACL plugs in here), then the ingest handlers that own its topic. The
// embedded broker runs this inside aedes's authorizePublish hook for MQTT clients and before
// aedes.publish for in-process publishes. Kept apart from the broker so the policy reads in one
// place and the broker file only wires sockets.

import type { Logger } from 'pino';
import { edgetwinError, isEdgetwinError, type EdgetwinError } from '../errors.js';
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
  private readonly publishAuthorizers: PublishAuthorizer[] = [];
  private readonly subscribeAuthorizers: SubscribeAuthorizer[] = [];
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /** True if nothing can stop or delay a client's publish to `topic` (the hot path's fast exit). */
  isFree(topic: string): boolean {
    return this.publishAuthorizers.length === 0 && this.ingest.match(topic).length === 0;
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

  /** Appends a publish authorizer; returns its remover. */
  addPublishAuthorizer(authorizer: PublishAuthorizer): () => void {
    return addTo(this.publishAuthorizers, authorizer);
  }

  /** Appends a subscribe authorizer; returns its remover. */
  addSubscribeAuthorizer(authorizer: SubscribeAuthorizer): () => void {
    return addTo(this.subscribeAuthorizers, authorizer);
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
   * Runs the ingest handlers matching `topic` in registration order. Resolves to the coded
   * error of a handler that could not take the message (it must not be acknowledged), else
   * undefined; logs, never rejects.
   */
  async runIngest(topic: string, payload: Buffer, origin: MessageOrigin): Promise<EdgetwinError | undefined> {
    for (const handler of this.ingest.match(topic)) {
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
    }
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
        const level = isEdgetwinError(err) ? 'info' : 'error';
        this.log[level]({ err: denial, clientId: client.clientId, topic }, `${action} denied`);
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
