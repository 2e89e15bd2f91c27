// KubeEdge's MQTT payloads, key for key (KubeEdge `edge/pkg/devicetwin/dttype`,
// https://github.com/kubeedge/kubeedge/tree/master/edge/pkg/devicetwin/dttype). edgetwin adds a
// few optional fields (marked) that KubeEdge clients ignore.

import type { ErrorCode, ErrorDetail } from '../errors.js';
import type { KubeType } from '../schemas/index.js';

/** The closed loop's state of a desired value (docs/reliability.md). */
export type AckState = 'pending' | 'applied' | 'rejected' | 'failed';

export interface BaseMessage {
  event_id: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface WireValue {
  value?: string;
  metadata?: { timestamp?: number };
}

export interface WireVersion {
  cloud: number;
  edge: number;
}

/** edgetwin: the closed loop's ack of the current desired value. */
export interface WireAck {
  state: AckState;
  /** The desired value this ack is for; an ack for a stale value is ignored. */
  value?: string;
  code?: string;
  reason?: string;
  timestamp?: number;
}

export interface MsgTwin {
  expected?: WireValue;
  actual?: WireValue;
  optional?: boolean;
  metadata?: { type?: string };
  expected_version?: WireVersion;
  actual_version?: WireVersion;
  /** edgetwin */
  ack?: WireAck;
}

export interface DeviceTwinUpdate extends BaseMessage {
  twin: Record<string, MsgTwin | null>;
  /** edgetwin: optimistic concurrency; must equal the twin's current version. */
  version?: number;
}

export interface DeviceTwinResult extends BaseMessage {
  twin: Record<string, MsgTwin | null>;
  /** edgetwin: the twin's version after the update. */
  version?: number;
  /** edgetwin, when `twin/get` asked `include: ["units"]`: each property's model `unit`, where it has one. */
  units?: Record<string, string>;
}

export interface DeviceTwinDelta extends BaseMessage {
  twin: Record<string, MsgTwin>;
  delta: Record<string, string>;
}

export interface DocumentEntry {
  last: MsgTwin | null;
  current: MsgTwin | null;
}

export interface DeviceTwinDocument extends BaseMessage {
  twin: Record<string, DocumentEntry>;
}

/** An error answer. KubeEdge sends `code` and `reason`; edgetwin adds the stable error code. */
export interface ResultMessage extends BaseMessage {
  code: number;
  reason: string;
  /** edgetwin */
  error_code: ErrorCode;
  /** edgetwin: one entry per failing property or field. */
  errors?: readonly ErrorDetail[];
  /** edgetwin: on a 409, the twin's current version. */
  version?: number;
}

export interface WireDevice {
  id?: string;
  name?: string;
  description?: string;
  state?: string;
  last_online?: string;
  twin?: Record<string, MsgTwin>;
  /** edgetwin, when `membership/get` asked `include: ["protocol"]`: spec.protocol.protocolName. */
  protocol?: string;
  /** edgetwin, when `membership/get` asked `include: ["model"]`: spec.deviceModelRef.name. */
  model?: string;
}

export interface MembershipUpdate extends BaseMessage {
  added_devices: WireDevice[] | null;
  removed_devices: WireDevice[] | null;
}

export interface MembershipGetResult extends BaseMessage {
  devices: WireDevice[];
}

export interface DeviceStateUpdate extends BaseMessage {
  state: string;
}

/** `state/update/result`; note KubeEdge's camelCase `lastOnlineTime` here. */
export interface DeviceStateResult extends BaseMessage {
  device: { name?: string; state?: string; lastOnlineTime?: string };
}

export interface DeviceData extends BaseMessage {
  data: Record<string, { value: string; metadata: { timestamp: number; type: string } }>;
}

/** What a history entry records: a reported value, a desired value, or an ack. */
export type HistoryKind = 'reported' | 'desired' | 'ack';

/** One series as stored: raw entries, and one point per downsampled bucket (its last value). */
export interface HistoryPoints {
  readonly property: string;
  readonly kind: HistoryKind;
  readonly t: number[];
  readonly value: Array<number | string>;
}

/** One series aggregated by step: non-empty buckets only; min/max/mean are null for text values. */
export interface HistoryBuckets {
  readonly property: string;
  readonly kind: HistoryKind;
  /** Bucket starts. */
  readonly t: number[];
  readonly count: number[];
  readonly min: Array<number | null>;
  readonly max: Array<number | null>;
  readonly mean: Array<number | null>;
  readonly last: Array<number | string>;
}

export type HistorySeries = HistoryPoints | HistoryBuckets;

/** The answer of a history query (the HTTP API and the MQTT extension send it as JSON). */
export interface HistoryResult {
  readonly device: string;
  readonly since: number;
  readonly until: number;
  readonly step: number | null;
  /** Series that hold anything, in the order asked (property, then kind); each with its property's type. */
  readonly series: ReadonlyArray<HistorySeries & { readonly type: KubeType }>;
}
