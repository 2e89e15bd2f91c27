// Twin state as edgetwin keeps it (in memory and in the store). The wire shapes (KubeEdge's
// MsgTwin and friends) are in wire.ts; conversion between the two is in document.ts.

import type { KubeType } from '../schemas/index.js';
import type { AckState, HistoryKind, HistorySeries } from '../wire/index.js';

// Wire shapes (wire/messages.ts), part of the twin's vocabulary too.
export type { AckState, HistoryBuckets, HistoryKind, HistoryPoints, HistorySeries } from '../wire/index.js';

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

/** What a history entry records: a reported (actual) value, a desired (expected) value, or an ack transition. */

/** One value kept in a property's history (devicetwin/history.ts makes them from a change). */
export interface HistoryEntry {
  readonly property: string;
  readonly kind: HistoryKind;
  /** Milliseconds since the epoch: the twin's timestamp of the value (or of the ack). */
  readonly timestamp: number;
  /**
   * A number for a numeric property (int, float, double), the canonical wire string otherwise;
   * for an ack, its state (`applied`), or `state:CODE` when it carries a code.
   */
  readonly value: number | string;
}

/** One unit of durable work: everything one message changed. */
export type StoreChange =
  /**
   * The device's twins after the change; `changed` names the properties that differ (all when
   * omitted). `history` is appended to the history in the same transaction, entry by entry
   * (group commit folds twin rows, never history entries).
   */
  | { readonly kind: 'twins'; readonly device: DeviceTwinState; readonly changed?: readonly string[]; readonly history?: readonly HistoryEntry[] }
  | { readonly kind: 'state'; readonly id: string; readonly state: DeviceStateName; readonly lastOnline: string }
  | { readonly kind: 'member'; readonly entry: MembershipEntry }
  | { readonly kind: 'unmember'; readonly id: string };

/** Per device or per model, what differs from the history defaults. */
export interface HistoryOverride {
  readonly enabled?: boolean;
  readonly maxAgeMs?: number;
  readonly maxBytes?: number;
}

/** How history is kept (docs/telemetry.md); telemetry/ builds it from the config's `history` section. */
export interface HistoryPolicy {
  /** Record history at all (a device or model override may still turn it off, or on). */
  readonly enabled: boolean;
  /** Entries older than this are dropped. */
  readonly maxAgeMs: number;
  /** The history's estimated size is kept under this: the oldest hours go first. */
  readonly maxBytes: number;
  /** Raw entries older than this are folded into 1-minute buckets (min/max/mean/last). */
  readonly minuteBucketsAfterMs: number;
  /** 1-minute buckets older than this are folded into 1-hour buckets. */
  readonly hourBucketsAfterMs: number;
  /** The most points one query may return. */
  readonly maxPoints: number;
  /** By `<namespace>/<name>`; a device's entry wins over its model's. */
  readonly devices: ReadonlyMap<string, HistoryOverride>;
  /** By model name. */
  readonly models: ReadonlyMap<string, HistoryOverride>;
}

/** A store-level history query: resolved series, absolute times, a step or none. */
export interface HistoryQuery {
  readonly device: string;
  readonly series: ReadonlyArray<{ readonly property: string; readonly kind: HistoryKind }>;
  /** Inclusive, ms since the epoch. */
  readonly since: number;
  /** Exclusive, ms since the epoch. */
  readonly until: number;
  /** Aggregate into buckets of this many ms (aligned to the epoch); absent: the points as stored. */
  readonly stepMs?: number;
  /** Refuse (EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS) a query that would return more points. */
  readonly maxPoints: number;
}


export type HistoryTier = 'raw' | 'minute' | 'hour';

export interface HistoryStats {
  /** Rows and estimated bytes per tier (raw entries, 1-minute buckets, 1-hour buckets). */
  readonly tiers: Readonly<Record<HistoryTier, { readonly rows: number; readonly bytes: number }>>;
  /** Start of the oldest hour that holds history, or undefined when there is none. */
  readonly oldest?: number;
}

/** What one maintenance run did, in rows. */
export interface HistoryMaintenanceReport {
  /** Raw entries and 1-minute buckets folded into coarser buckets. */
  readonly downsampled: number;
  /** Dropped for being older than their maxAge. */
  readonly expired: number;
  /** Dropped to keep the history under maxBytes (globally, or a device's own). */
  readonly evicted: number;
}

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
  /**
   * Reads history (entries committed so far). Rejects with EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS
   * when the answer would exceed `query.maxPoints`, EDGETWIN_ERR_STORE_CLOSED when not open.
   */
  queryHistory(query: HistoryQuery): Promise<HistorySeries[]>;
  /**
   * Applies retention (maxAge, maxBytes, overrides) and downsampling now, in small
   * transactions that let commits run between them. Stores also do this periodically on their own.
   */
  maintainHistory(): Promise<HistoryMaintenanceReport>;
  historyStats(): Promise<HistoryStats>;
  /** Flushes pending commits, then closes. Idempotent. */
  close(): Promise<void>;
}
