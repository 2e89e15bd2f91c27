// Twin state as edgetwin keeps it (in memory and in the store). The wire shapes (KubeEdge's
// MsgTwin and friends) are in wire.ts; conversion between the two is in document.ts.

import type { KubeType } from '../schemas/index.js';

/** KubeEdge's per-side version: `cloud` advances on cloud syncs, `edge` on local writes. */
export interface TwinVersion {
  readonly cloud: number;
  readonly edge: number;
}

export interface TwinValue {
  /** The canonical wire string of the value. */
  readonly value: string;
  /** Milliseconds since the epoch, set by the edge when the value was stored. */
  readonly timestamp: number;
}

export type AckState = 'pending' | 'applied' | 'rejected' | 'failed';

/** The closed loop's verdict on the current desired value (DESIGN.md, DeviceTwin semantics). */
export interface DesiredAck {
  readonly state: AckState;
  /** An EDGETWIN_ERR_* code when rejected or failed. */
  readonly code?: string;
  readonly reason?: string;
  readonly timestamp: number;
}

export interface TwinState {
  readonly expected?: TwinValue;
  readonly actual?: TwinValue;
  /** KubeEdge: defaults to true; may only change true → false. */
  readonly optional: boolean;
  /** The value type, or `deleted` for a soft-deleted twin (its row and versions are kept). */
  readonly type: KubeType | 'deleted';
  readonly expectedVersion: TwinVersion;
  readonly actualVersion: TwinVersion;
  readonly ack?: DesiredAck;
}

export type DeviceStateName = 'online' | 'offline' | 'ok' | 'unknown' | 'unhealthy';

export interface DeviceTwinState {
  /** `<namespace>/<name>` */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  /** Advances by one on every persisted change to the device's twins; optional 409 check. */
  readonly version: number;
  readonly twins: { readonly [property: string]: TwinState };
  /** Device state from `state/update`, `unknown` until a mapper reports one. */
  readonly state: DeviceStateName;
  /** RFC 3339, set when the state becomes online/ok; '' otherwise (KubeEdge). */
  readonly lastOnline: string;
}

/** Membership of this node: which devices are bound here, and their description. */
export interface MembershipEntry {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly model: string;
  readonly description?: string;
  /** Where the device came from: `manifest` or `cluster`. */
  readonly origin: string;
}

/** One unit of durable work: everything one message changed. */
export type StoreChange =
  /** The device's twins after the change; `changed` names the properties that differ (all when omitted). */
  | { readonly kind: 'twins'; readonly device: DeviceTwinState; readonly changed?: readonly string[] }
  | { readonly kind: 'state'; readonly id: string; readonly state: DeviceStateName; readonly lastOnline: string }
  | { readonly kind: 'member'; readonly entry: MembershipEntry }
  | { readonly kind: 'unmember'; readonly id: string };

export interface StoredData {
  readonly devices: readonly DeviceTwinState[];
  readonly members: readonly MembershipEntry[];
}

/**
 * Durable storage for twins, device state and membership. Implementations: SQLite
 * (devicetwin/store/sqlite.ts); all pass devicetwin/store/conformance.ts.
 */
export interface TwinStore {
  /** Opens (creating and migrating as needed) and returns everything stored. */
  open(): Promise<StoredData>;
  /**
   * Queues changes and resolves once they are durable. Calls made in the same tick (or while a
   * commit is in progress) are grouped into one transaction, so durability does not cost one
   * fsync per message. Rejects with EDGETWIN_ERR_STORE_WRITE (nothing of the group applied) or
   * EDGETWIN_ERR_STORE_CLOSED.
   */
  commit(changes: readonly StoreChange[]): Promise<void>;
  /** Flushes pending commits, then closes. Idempotent. */
  close(): Promise<void>;
}
