// Which payload each KubeEdge topic carries, as types: a topic →  payload map (the way
// zigbee2mqtt's api.ts types its topics), so publishing the wrong message on a topic, or a topic
// kind added to eventbus/topics.ts without its payload here, is a compile error.

import { deviceTopic, nodeTopic, type Bus, type DeviceTopicKind, type NodeTopicKind, type PublishOptions } from '../eventbus/index.js';
import type {
  BaseMessage,
  DeviceStateResult,
  DeviceStateUpdate,
  DeviceTwinDelta,
  DeviceTwinDocument,
  DeviceTwinResult,
  DeviceTwinUpdate,
  MembershipGetResult,
  MembershipUpdate,
  ResultMessage,
  WireDevice,
} from './messages.js';

/** `twin/get` and `membership/get` may ask edgetwin for extra fields (docs/mqtt-api.md). */
export interface GetRequest extends BaseMessage {
  include?: readonly string[];
}

/** `$hw/events/device/<ns>/<name>/<kind>` → its payload. */
export interface DeviceTopicPayloads {
  'twin/update': DeviceTwinUpdate;
  'twin/update/result': DeviceTwinResult | ResultMessage;
  'twin/update/delta': DeviceTwinDelta;
  'twin/update/document': DeviceTwinDocument;
  'twin/get': GetRequest;
  'twin/get/result': DeviceTwinResult | ResultMessage;
  'twin/cloud_updated': DeviceTwinUpdate;
  'state/update': DeviceStateUpdate;
  'state/update/result': DeviceStateResult | ResultMessage;
  updated: BaseMessage & { device?: WireDevice };
}

/** `$hw/events/node/<node>/<kind>` → its payload. */
export interface NodeTopicPayloads {
  'membership/get': GetRequest;
  'membership/get/result': MembershipGetResult | ResultMessage;
  'membership/updated': MembershipUpdate;
}

// Every topic kind has a payload type (and nothing else is in the maps).
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const deviceKindsCovered: Exactly<keyof DeviceTopicPayloads, DeviceTopicKind> = true;
const nodeKindsCovered: Exactly<keyof NodeTopicPayloads, NodeTopicKind> = true;
void deviceKindsCovered;
void nodeKindsCovered;

/** Publishes `message` on a device topic; its type is the one the topic carries. */
export function publishDevice<K extends DeviceTopicKind>(bus: Bus, id: { readonly namespace: string; readonly name: string }, kind: K, message: DeviceTopicPayloads[K], opts?: PublishOptions): Promise<void> {
  return bus.publish(deviceTopic(id.namespace, id.name, kind), JSON.stringify(message), opts);
}

/** Publishes `message` on a node topic. */
export function publishNode<K extends NodeTopicKind>(bus: Bus, node: string, kind: K, message: NodeTopicPayloads[K], opts?: PublishOptions): Promise<void> {
  return bus.publish(nodeTopic(node, kind), JSON.stringify(message), opts);
}
