// KubeEdge's MQTT payloads, key for key (kubeedge-notes §1.1, `edge/pkg/devicetwin/dttype`).
// edgetwin adds a few optional fields (marked) that KubeEdge clients ignore.

import type { ErrorCode, ErrorDetail } from '../errors.js';
import type { AckState } from './types.js';

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
