// Who may publish and subscribe to what: roles × the KubeEdge topic grammar × the device
// registry. Pure functions of (principal, topic, context) so every rule is tested without
// sockets. A check returns undefined to allow, or the reason it denies.
//
// Roles (docs/security.md):
//   mapper  its devices (those of its `protocols`, plus any listed in `devices`): reports
//           (`twin/update`, `state/update`, `data/update`), reads its twin (`twin/get`), and
//           subscribes to their deltas and results; each subscription names one device.
//   app     reads twins (`twin/get`, membership) and subscribes to results, documents, deltas.
//   writer  an app that may also `twin/update` (desired values only: see TWIN_CHANGES).
//   admin   everything, including `twin/cloud_updated` and topics outside KubeEdge's grammar.
// app and writer see every device unless their entry lists `devices`. History (edgetwin's
// `$edgetwin/device/<id>/history/get` → `…/get/result`, and the HTTP API) is read by app and
// above, for the devices they see; a mapper reads none (checkHistoryRead).

import {
  ANONYMOUS_UPDATE_RESULT_TOPIC,
  DATA_PREFIX,
  DEVICE_PREFIX,
  DEVICE_TOPIC_KINDS,
  EDGETWIN_DEVICE_PREFIX,
  EXTENSION_TOPIC_KINDS,
  NODE_PREFIX,
  NODE_TOPIC_KINDS,
  deviceTopicProblem,
  parseTopic,
  topicMatches,
  type DeviceTopicKind,
  type NodeTopicKind,
} from '../topics.js';
import type { Principal, Role } from './users.js';

/** What the ACL needs of the device registry (the twin module knows each device's protocol). */
export interface DeviceRegistry {
  /** The device's `protocolName`, or undefined if the device is not bound here or has none. */
  protocolOf(id: string): string | undefined;
}

export interface AclContext {
  readonly nodeName: string;
  readonly registry: DeviceRegistry;
}

type Limited = Exclude<Role, 'admin'>;

const PUBLISH: Readonly<Record<Limited, ReadonlySet<DeviceTopicKind>>> = {
  mapper: new Set(['twin/update', 'state/update', 'twin/get']),
  writer: new Set(['twin/update', 'twin/get']),
  app: new Set(['twin/get']),
};

// Requests (`twin/update`, `twin/get`, `state/update`, `cloud_updated`) are readable by admin
// only: they carry other clients' raw messages, while results and documents carry the outcome.
const APP_READS: ReadonlySet<DeviceTopicKind> = new Set([
  'twin/update/result',
  'twin/update/delta',
  'twin/update/document',
  'twin/get/result',
  'state/update/result',
]);
const SUBSCRIBE: Readonly<Record<Limited, ReadonlySet<DeviceTopicKind>>> = {
  mapper: new Set(['twin/update/delta', 'twin/update/result', 'twin/get/result', 'state/update/result']),
  writer: APP_READS,
  app: APP_READS,
};
const NODE_PUBLISH: ReadonlySet<NodeTopicKind> = new Set(['membership/get']);
const NODE_SUBSCRIBE: ReadonlySet<NodeTopicKind> = new Set(['membership/get/result', 'membership/updated']);

const isWildcard = (level: string | undefined): boolean => level === '+' || level === '#';

/**
 * May `p` read the history of device `id`? Undefined if so, else why not. History is what a
 * device reported and was told over days: an app's to read, not a mapper's (it reports, and sees
 * its devices' deltas, not their past).
 */
export function checkHistoryRead(p: Principal, id: string, ctx: AclContext): string | undefined {
  if (p.role === 'mapper') return `role mapper may not read history (${p.name} reports values; reading them takes an app, writer or admin user)`;
  return inScope(p, id, ctx) ? undefined : `device ${id} is not among ${p.name}'s devices`;
}

/** May `p` act on device `id`? */
export function inScope(p: Principal, id: string, ctx: AclContext): boolean {
  switch (p.role) {
    case 'admin':
      return true;
    case 'mapper': {
      if (p.devices.has(id)) return true;
      const protocol = ctx.registry.protocolOf(id);
      return protocol !== undefined && p.protocols.has(protocol);
    }
    default:
      return p.devices.size === 0 || p.devices.has(id);
  }
}

/** Does `p` see every device (and so may use wildcards over device ids)? */
function seesAll(p: Principal): boolean {
  return p.role === 'admin' || (p.role !== 'mapper' && p.devices.size === 0);
}

export function checkPublish(p: Principal, topic: string, ctx: AclContext): string | undefined {
  if (p.role === 'admin') return undefined;
  const parsed = parseTopic(topic);
  if (!parsed) return topic.startsWith(DEVICE_PREFIX) ? checkInvalidDeviceTopic(p.role, topic) : `role ${p.role} may publish only KubeEdge device and node topics`;
  switch (parsed.scope) {
    case 'device':
      if (!PUBLISH[p.role].has(parsed.kind)) return `role ${p.role} may not publish ${parsed.kind}`;
      return inScope(p, parsed.id, ctx) ? undefined : `device ${parsed.id} is not among ${p.name}'s devices`;
    case 'node':
      if (parsed.node !== ctx.nodeName) return `node ${parsed.node} is not this node`;
      return NODE_PUBLISH.has(parsed.kind) ? undefined : `role ${p.role} may not publish ${parsed.kind}`;
    case 'data':
      if (p.role !== 'mapper') return `role ${p.role} may not publish device data`;
      return inScope(p, parsed.id, ctx) ? undefined : `device ${parsed.id} is not among ${p.name}'s devices`;
    case 'edgetwin':
      // Requests only: answers come from edgetwin itself.
      if (parsed.kind !== 'history/get') return `role ${p.role} may not publish ${parsed.kind}`;
      return checkHistoryRead(p, parsed.id, ctx);
  }
}

/**
 * A request on a device topic with an invalid id (or an unknown kind) reaches the twin, which
 * answers it with a 400 and applies nothing (devicetwin/handlers/invalid.ts): a mapper with a
 * typo in a device id learns why instead of being disconnected. Answer kinds stay refused.
 */
function checkInvalidDeviceTopic(role: Limited, topic: string): string | undefined {
  const found = deviceTopicProblem(topic);
  if (found.problem === 'id' && !PUBLISH[role].has(found.kind)) return `role ${role} may not publish ${found.kind}`;
  return undefined;
}

/**
 * Every known kind that `filter` (already split after the device prefix) can match, given the
 * device levels it names (wildcards stand for any device, including the empty id of
 * `$hw/events/device//twin/update/result`).
 */
function kindsMatched<K extends string>(filter: string, prefix: string, kinds: readonly K[]): K[] {
  return kinds.filter((kind) => topicMatches(filter, `${prefix}${kind}`));
}

export function checkSubscribe(p: Principal, filter: string, ctx: AclContext): string | undefined {
  if (p.role === 'admin') return undefined;
  // The answers to messages that name no device (bad JSON, an invalid device id): every role
  // must be able to hear why its own request was refused (devicetwin/handlers/invalid.ts).
  if (filter === ANONYMOUS_UPDATE_RESULT_TOPIC) return undefined;
  if (filter.startsWith(DEVICE_PREFIX)) return checkDeviceFilter(p, filter, ctx);
  if (filter.startsWith(NODE_PREFIX)) {
    const [node] = filter.slice(NODE_PREFIX.length).split('/');
    if (node !== ctx.nodeName) return `a membership subscription must name this node (${ctx.nodeName})`;
    const kinds = kindsMatched(filter, `${NODE_PREFIX}${node}/`, NODE_TOPIC_KINDS);
    if (kinds.length === 0) return 'the filter matches no membership topic';
    const bad = kinds.find((k) => !NODE_SUBSCRIBE.has(k));
    return bad ? `role ${p.role} may not read ${bad}` : undefined;
  }
  if (filter.startsWith(EDGETWIN_DEVICE_PREFIX)) return checkExtensionFilter(p, filter, ctx);
  if (filter.startsWith(DATA_PREFIX)) {
    if (p.role === 'mapper') return 'a mapper publishes device data; it does not read it';
    const [ns, name, ...rest] = filter.slice(DATA_PREFIX.length).split('/');
    if (rest.join('/') !== 'data/update' && !(rest.length === 0 && name === '#')) return 'the filter matches no device data topic';
    if (isWildcard(ns) || isWildcard(name)) return seesAll(p) ? undefined : `${p.name} may not read every device`;
    return inScope(p, `${ns}/${name}`, ctx) ? undefined : `device ${ns}/${name} is not among ${p.name}'s devices`;
  }
  return `role ${p.role} may subscribe only to KubeEdge device and node topics`;
}

function checkDeviceFilter(p: Principal, filter: string, ctx: AclContext): string | undefined {
  const role = p.role as Limited;
  const [ns = '', name = '', ...rest] = filter.slice(DEVICE_PREFIX.length).split('/');
  const anyDevice = isWildcard(ns) || isWildcard(name);
  if (anyDevice && !seesAll(p)) return `${p.name} must subscribe per device (<namespace>/<name>, no wildcards)`;
  if (!anyDevice && !inScope(p, `${ns}/${name}`, ctx)) return `device ${ns}/${name} is not among ${p.name}'s devices`;
  // `#` in a device level matches every kind, requests included; otherwise the levels after
  // the device are matched against each kind.
  const kinds =
    ns === '#' || name === '#' ? DEVICE_TOPIC_KINDS : DEVICE_TOPIC_KINDS.filter((k) => rest.length > 0 && topicMatches(rest.join('/'), k));
  if (kinds.length === 0) return 'the filter matches no device topic';
  const bad = kinds.find((k) => !SUBSCRIBE[role].has(k));
  return bad ? `role ${role} may not read ${bad} (subscribe to each topic it may read instead)` : undefined;
}

/** `$edgetwin/device/…` filters: history answers, for those who may read the device's history. */
function checkExtensionFilter(p: Principal, filter: string, ctx: AclContext): string | undefined {
  const [ns = '', name = '', ...rest] = filter.slice(EDGETWIN_DEVICE_PREFIX.length).split('/');
  const anyDevice = isWildcard(ns) || isWildcard(name);
  if (p.role === 'mapper') return checkHistoryRead(p, '', ctx);
  if (anyDevice && !seesAll(p)) return `${p.name} must subscribe per device (<namespace>/<name>, no wildcards)`;
  if (!anyDevice) {
    const why = checkHistoryRead(p, `${ns}/${name}`, ctx);
    if (why !== undefined) return why;
  }
  const kinds = ns === '#' || name === '#' ? EXTENSION_TOPIC_KINDS : EXTENSION_TOPIC_KINDS.filter((k) => rest.length > 0 && topicMatches(rest.join('/'), k));
  if (kinds.length === 0) return 'the filter matches no edgetwin device topic';
  // Requests are readable by admins only, as for KubeEdge's topics.
  return kinds.includes('history/get') ? `role ${p.role} may not read history/get (subscribe to history/get/result)` : undefined;
}

/** What a twin update may change; the twin module reports which of these an update does. */
export type TwinChangeKind = 'desired' | 'reported' | 'ack' | 'delete' | 'optional';

/**
 * Topic ACLs cannot see payloads, so the twin module asks, per update, whether the sender may
 * make the changes it makes: a mapper reports (actual values and acks of desired ones), a
 * writer decides (desired values, deleting optional twins, making a twin required). Checked on
 * the effect, so a mapper that echoes the current desired value back (some KubeEdge mappers
 * send the whole twin) is not refused for a value it does not change.
 */
export const TWIN_CHANGES: Readonly<Record<Role, ReadonlySet<TwinChangeKind>>> = {
  admin: new Set(['desired', 'reported', 'ack', 'delete', 'optional']),
  writer: new Set(['desired', 'delete', 'optional']),
  mapper: new Set(['reported', 'ack']),
  app: new Set(),
};
