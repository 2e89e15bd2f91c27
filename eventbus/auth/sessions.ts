// Which user owns each MQTT client id. MQTT ties a session (its subscriptions and the QoS 1
// messages queued while it is away) to the client id alone [MQTT-3.1.2-4], and a CONNECT with
// a client id in use takes the connection over [MQTT-3.1.4-2]. Between users that is an
// impersonation: an app user reconnecting with an admin's client id and clean=false would get
// the admin's queued messages, and anyone could knock anyone off. So the first user to connect
// with a client id owns it while its session lives; another user's CONNECT with it is refused
// with CONNACK 2 (identifier rejected) before aedes touches the session. The same user may
// take its own connection over, as MQTT says.
//
// A session lives while one of its connections is open, and after the last one closes if it
// was opened with clean=false (aedes keeps it until a clean=true CONNECT of the same id). The
// sessions are in aedes's in-memory store, and so is this: after a restart both are gone and
// the first CONNECT with an id owns it again.

import { edgetwinError, type EdgetwinError } from '../../errors.js';

interface Owner {
  /** The user name, or undefined for anonymous clients (all one identity). */
  readonly user: string | undefined;
  /** Connections holding the id now (a takeover briefly has two). */
  live: number;
  /** The session outlives its connections (the latest CONNECT had clean=false). */
  persistent: boolean;
}

export class SessionOwners {
  private readonly owners = new Map<string, Owner>();

  /** Claims `clientId` for `user`'s connection; the refusal if another user owns it. */
  claim(clientId: string, user: string | undefined, clean: boolean): EdgetwinError | undefined {
    const owner = this.owners.get(clientId);
    if (owner && owner.user !== user) {
      // Which user owns it is not said: that would tell a guesser which ids are worth trying.
      return edgetwinError(
        'EDGETWIN_ERR_CLIENT_ID_TAKEN',
        `client id ${JSON.stringify(clientId.slice(0, 128))} belongs to another user's session; connect with a client id of your own`,
      );
    }
    if (owner) {
      owner.live++;
      // clean=true discards the previous session [MQTT-3.1.2-6]; clean=false keeps or starts one.
      owner.persistent = !clean;
    } else {
      this.owners.set(clientId, { user, live: 1, persistent: !clean });
    }
    return undefined;
  }

  /** A claimed connection closed; the id is free again once no session remains. */
  release(clientId: string, user: string | undefined): void {
    const owner = this.owners.get(clientId);
    if (!owner || owner.user !== user) return;
    owner.live = Math.max(0, owner.live - 1);
    if (owner.live === 0 && !owner.persistent) this.owners.delete(clientId);
  }

  /** The owner of `clientId`, if any (for tests and logs). */
  ownerOf(clientId: string): { user: string | undefined } | undefined {
    const owner = this.owners.get(clientId);
    return owner && { user: owner.user };
  }

  get size(): number {
    return this.owners.size;
  }
}
