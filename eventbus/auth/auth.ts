// The broker's authentication and authorization policy: who a client is (users file, TLS
// client certificate, or anonymous by the configured rule), how fast it may guess passwords
// (throttle.ts), which client ids are its own (sessions.ts), and what it may do (acl.ts), always
// against the current users file (watched: a change reaches connected clients). It plugs into
// the EmbeddedBroker through its hooks and into the twin module through `authorizeChange`;
// nothing here touches sockets.

import type { Logger } from 'pino';
import { edgetwinError, type EdgetwinError } from '../../errors.js';
import type { ClientInfo, ForwardAuthorizer, PublishAuthorizer, SubscribeAuthorizer } from '../admission.js';
import type { MessageOrigin } from '../bus.js';
import { checkHistoryRead, checkPublish, checkSubscribe, TWIN_CHANGES, type AclContext, type DeviceRegistry, type TwinChangeKind } from './acl.js';
import { isLoopback, type Authenticator, type ClosedClient, type ConnectingClient } from './identity.js';
import { verifyPassword } from './password.js';
import { SessionOwners } from './sessions.js';
import { LoginThrottle } from './throttle.js';
import type { ClientCertificates } from './tls.js';
import { UsersFile, type Principal, type Role, type UsersChange } from './users.js';

/** `loopback`: only clients on this machine; `any`: anyone who reaches the port; `off`: nobody. */
export type AnonymousAccess = 'off' | 'loopback' | 'any';

export interface BrokerAuthOptions {
  readonly nodeName: string;
  readonly registry: DeviceRegistry;
  readonly logger: Logger;
  readonly usersFile?: string;
  /** Default: `off` when a users file is configured, `loopback` otherwise (docs/security.md). */
  readonly anonymous?: AnonymousAccess;
  /** The role of anonymous clients. Default `admin`: the single-command start must be usable. */
  readonly anonymousRole?: Role;
  /** The TLS listener's client-certificate mode, if there is a TLS listener. */
  readonly clientCertificates?: ClientCertificates;
  /** The plain listener's address, for the clear-text password warning. */
  readonly plainHost?: string;
}

/** What BrokerAuth installs its authorizers on (the EmbeddedBroker). */
export interface AuthorizableBus {
  addPublishAuthorizer(authorizer: PublishAuthorizer): () => void;
  addSubscribeAuthorizer(authorizer: SubscribeAuthorizer): () => void;
  addForwardAuthorizer(authorizer: ForwardAuthorizer): () => void;
  /** Closes the connections of the clients `match` selects; returns how many. */
  disconnectClients(match: (client: ClientInfo) => boolean, reason: string): number;
}

/** Counters for /metrics (edgecore/metrics.ts). */
export interface AuthStats {
  /** Failed password checks whose refusal was held back (throttle.ts). */
  readonly loginBackoffs: number;
  /** CONNECTs refused because another user's session owns the client id (sessions.ts). */
  readonly clientIdRefused: number;
  /** Clients disconnected because their user was removed from the users file or lost rights in it. */
  readonly revoked: number;
}

const CHANGE_WORDS: Readonly<Record<TwinChangeKind, string>> = {
  desired: 'set desired values',
  reported: 'report actual values',
  ack: 'acknowledge desired values',
  delete: 'delete twins',
  optional: 'make twins required',
};

function failed(message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_AUTH_FAILED', message);
}

export class BrokerAuth {
  private readonly opts: BrokerAuthOptions;
  private readonly acl: AclContext;
  private users: UsersFile | undefined;
  private anonymousAccess: AnonymousAccess = 'loopback';
  private anonymousPrincipal: Principal;
  private readonly throttle = new LoginThrottle();
  private readonly sessions = new SessionOwners();
  private bus: AuthorizableBus | undefined;
  private readonly counters = { clientIdRefused: 0, revoked: 0 };

  constructor(opts: BrokerAuthOptions) {
    this.opts = opts;
    this.acl = { nodeName: opts.nodeName, registry: opts.registry };
    this.anonymousPrincipal = { name: 'anonymous', role: opts.anonymousRole ?? 'admin', protocols: new Set(), devices: new Set() };
  }

  /** Loads the users file and checks the settings; throws a coded error (start-up refuses). */
  start(): void {
    const { usersFile, clientCertificates = 'off', logger } = this.opts;
    if (clientCertificates !== 'off' && usersFile === undefined) {
      throw edgetwinError('EDGETWIN_ERR_AUTH_CONFIG', 'client certificates name users of the users file (by their CN): set mqtt.auth.usersFile');
    }
    this.anonymousAccess = this.opts.anonymous ?? (usersFile !== undefined ? 'off' : 'loopback');
    if (usersFile !== undefined) {
      this.users = new UsersFile(usersFile, logger);
      this.users.load();
      this.users.watch((change) => this.revoke(change));
      if (this.users.size === 0 && this.anonymousAccess === 'off') {
        logger.warn({ path: usersFile }, 'the users file has no users and anonymous access is off: no client can connect (edgetwin user add)');
      }
    } else if (this.anonymousAccess === 'off') {
      throw edgetwinError('EDGETWIN_ERR_AUTH_CONFIG', 'mqtt.auth.anonymous is off and no mqtt.auth.usersFile is set: no client could ever connect');
    }
    if (this.anonymousAccess === 'any') {
      logger.warn({ role: this.anonymousPrincipal.role }, 'anonymous MQTT clients are accepted from every address (mqtt.auth.anonymous is "any")');
    }
    if (usersFile !== undefined && this.opts.plainHost !== undefined && !isLoopbackHost(this.opts.plainHost)) {
      logger.warn({ host: this.opts.plainHost }, 'passwords reach the plain MQTT listener unencrypted; prefer mqtt.tls for clients on other machines');
    }
  }

  /** Stops watching the users file and answers every held-back refusal now. */
  stop(): void {
    this.users?.close();
    this.throttle.close();
  }

  stats(): AuthStats {
    return { loginBackoffs: this.throttle.backoffs, ...this.counters };
  }

  get anonymous(): AnonymousAccess {
    return this.anonymousAccess;
  }

  /** False when every client is an anonymous admin: the twin module then need not ask authorizeChange. */
  get restrictsChanges(): boolean {
    return this.users !== undefined || this.anonymousPrincipal.role !== 'admin';
  }

  /** One phrase for the ready line, e.g. `auth: anonymous from loopback only (admin)`. */
  describe(): string {
    const anonymous =
      this.anonymousAccess === 'off'
        ? 'anonymous off'
        : `anonymous from ${this.anonymousAccess === 'loopback' ? 'loopback only' : 'any address'} (${this.anonymousPrincipal.role})`;
    if (!this.users) return `auth: ${anonymous}`;
    const n = this.users.size;
    return `auth: ${n} user${n === 1 ? '' : 's'} from ${this.users.path}, ${anonymous}`;
  }

  /** The broker's authenticate hook: who the client is, then whether its client id is free for that user. */
  /**
   * Who this is (the user name, or undefined for the anonymous principal), with the same
   * credential checks and login throttle as a CONNECT but no MQTT session: for requests that
   * are not MQTT connections (the HTTP API, edgecore/http/auth.ts), which own no client id.
   */
  readonly identifyRequest = (client: ConnectingClient): Promise<string | undefined> => this.identify(client);

  readonly authenticate: Authenticator = async (client: ConnectingClient) => {
    const name = await this.identify(client);
    const refusal = this.sessions.claim(client.clientId, name, client.clean ?? true);
    if (refusal) {
      this.counters.clientIdRefused++;
      throw refusal;
    }
    return name;
  };

  /** The broker's onClientClose hook: the client id may be free again (sessions.ts). */
  readonly clientClosed = (client: ClosedClient): void => {
    this.sessions.release(client.clientId, client.username);
  };

  private async identify(client: ConnectingClient): Promise<string | undefined> {
    const users = this.users;
    if (client.certificateError !== undefined) throw failed(`the client certificate did not verify: ${client.certificateError}`);
    if (client.certificateName !== undefined && users) {
      await users.refresh();
      const name = client.certificateName;
      if (!users.entry(name)) throw failed(`the client certificate's CN "${name}" names no user`);
      if (client.username !== undefined && client.username !== name) {
        throw failed(`user name "${client.username}" does not match the client certificate's CN "${name}"`);
      }
      return name;
    }
    if (client.username !== undefined && users) {
      await users.refresh();
      const name = client.username;
      // verifyPassword runs a full check even for an unknown user, so timing reveals no names.
      const password = client.password?.toString('utf8') ?? '';
      const verdict = await this.throttle.run(client.remoteAddress, name, () => verifyPassword(password, users.entry(name)?.password));
      if (!verdict.ok) {
        const { failures, delayedMs } = verdict;
        throw failed(`bad user name or password for "${name}" (${failures} in a row from this address or for this name; answered after ${delayedMs} ms)`);
      }
      // Removed from the file while the check ran: revoke() could not see this client yet.
      if (!users.entry(name)) throw failed(`user "${name}" was removed from the users file`);
      return name;
    }
    // No users file to check a user name against: the client is anonymous, whatever it sent.
    if (this.anonymousAccess === 'any') return undefined;
    if (this.anonymousAccess === 'loopback' && isLoopback(client.remoteAddress)) return undefined;
    if (this.anonymousAccess === 'loopback') {
      throw failed(`anonymous clients are accepted from this machine only, not from ${client.remoteAddress ?? 'an unknown address'}; connect with a user name and password`);
    }
    throw failed('anonymous access is off: connect with a user name and password (or a client certificate)');
  }

  /** Adds the publish and subscribe authorizers; returns the function that removes them. */
  install(bus: AuthorizableBus): () => void {
    this.bus = bus;
    const removers = [
      bus.addPublishAuthorizer((client, topic) => {
        const p = this.principalOf(client.username);
        if (p.role === 'admin') return;
        const why = checkPublish(p, topic, this.acl);
        if (why !== undefined) throw denied(p, `may not publish to ${topic}: ${why}`);
      }),
      bus.addSubscribeAuthorizer((client, filter) => {
        const p = this.principalOf(client.username);
        if (p.role === 'admin') return;
        const why = checkSubscribe(p, filter, this.acl);
        if (why !== undefined) throw denied(p, `may not subscribe to ${filter}: ${why}`);
      }),
    ];
    // Delivery is authorized again per message, against the current file: a user narrowed
    // while its persistent session was away must not receive what its old subscriptions still
    // queue for it (a topic is a filter that matches only itself). Not needed when every
    // client is an anonymous admin, the single-command default.
    if (this.restrictsChanges) {
      removers.push(
        bus.addForwardAuthorizer((client, topic) => {
          const p = client.username === undefined ? this.anonymousPrincipal : this.users?.principal(client.username);
          return p !== undefined && (p.role === 'admin' || checkSubscribe(p, topic, this.acl) === undefined);
        }),
      );
    }
    return () => removers.forEach((remove) => remove());
  }

  /**
   * For the twin module: may the sender of a `twin/update` make these changes to device `id`?
   * In-process publishes (no client id) are trusted. Returns the refusal, or undefined.
   */
  readonly authorizeChange = (origin: MessageOrigin, id: string, kinds: ReadonlySet<TwinChangeKind>): EdgetwinError | undefined => {
    if (origin.clientId === undefined) return undefined;
    let p: Principal;
    try {
      p = this.principalOf(origin.username);
    } catch (err) {
      return err as EdgetwinError;
    }
    const allowed = TWIN_CHANGES[p.role];
    for (const kind of kinds) {
      if (!allowed.has(kind)) return denied(p, `may not ${CHANGE_WORDS[kind]} of ${id} (role ${p.role})`);
    }
    return undefined;
  };

  /**
   * A reload of the users file took rights away: the clients of removed and narrowed users are
   * disconnected at once (a narrowed one may reconnect with what it has left, and its persistent
   * subscriptions are authorized again on the way: aedes re-runs authorizeSubscribe on restore).
   * Each publish and subscription is authorized against the current file in any case.
   */
  private revoke(change: UsersChange): void {
    const why = (user: string): string => (change.removed.has(user) ? 'removed from the users file' : 'its rights in the users file were reduced');
    const n = this.bus?.disconnectClients((c) => c.username !== undefined && (change.removed.has(c.username) || change.narrowed.has(c.username)), 'users file changed') ?? 0;
    this.counters.revoked += n;
    for (const user of [...change.removed, ...change.narrowed]) this.opts.logger.info({ user, reason: why(user) }, 'user changed in the users file; its clients are disconnected');
  }

  /**
   * For the HTTP API (edgecore/http): may the user `authenticate` accepted (undefined: the
   * anonymous principal) read the history of device `id`? The refusal, or undefined.
   */
  readonly authorizeHistory = (username: string | undefined, id: string): EdgetwinError | undefined => {
    let p: Principal;
    try {
      p = this.principalOf(username);
    } catch (err) {
      return err as EdgetwinError;
    }
    const why = checkHistoryRead(p, id, this.acl);
    return why === undefined ? undefined : denied(p, `may not read the history of ${id}: ${why}`);
  };

  /** The principal behind an authenticated name; throws for a user since removed from the file. */
  private principalOf(username: string | undefined): Principal {
    if (username === undefined) return this.anonymousPrincipal;
    const p = this.users?.principal(username);
    if (!p) throw edgetwinError('EDGETWIN_ERR_ACCESS_DENIED', `${username} is no longer in the users file`);
    return p;
  }
}

function denied(p: Principal, what: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_ACCESS_DENIED', `${p.name} ${what}`);
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}
