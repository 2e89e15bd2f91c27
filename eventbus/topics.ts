// The KubeEdge MQTT topic grammar (shared/reference/kubeedge-notes.md §1). Device ids are
// `<namespace>/<name>` (KubeEdge >= 1.17), so device topics carry two id segments.

export const DEVICE_PREFIX = '$hw/events/device/';
export const NODE_PREFIX = '$hw/events/node/';
export const DATA_PREFIX = '$ke/events/device/';
/**
 * edgetwin's own device topics, extensions of KubeEdge's API (docs/mqtt-api.md). Kept out of
 * `$hw/` so they can never collide with a topic a later KubeEdge adds, and `$`-prefixed so a `#`
 * subscription does not receive them [MQTT-4.7.2-1] (history answers can be large).
 */
export const EDGETWIN_DEVICE_PREFIX = '$edgetwin/device/';

/** The suffixes after `$hw/events/device/<ns>/<name>/`. */
export const DEVICE_TOPIC_KINDS = [
  'twin/update',
  'twin/update/result',
  'twin/update/delta',
  'twin/update/document',
  'twin/get',
  'twin/get/result',
  'twin/cloud_updated',
  'state/update',
  'state/update/result',
  'updated',
] as const;
export type DeviceTopicKind = (typeof DEVICE_TOPIC_KINDS)[number];

/** The suffixes after `$hw/events/node/<node>/`. */
export const NODE_TOPIC_KINDS = ['membership/get', 'membership/get/result', 'membership/updated'] as const;
export type NodeTopicKind = (typeof NODE_TOPIC_KINDS)[number];

/** The suffixes after `$edgetwin/device/<ns>/<name>/`. */
export const EXTENSION_TOPIC_KINDS = ['history/get', 'history/get/result'] as const;
export type ExtensionTopicKind = (typeof EXTENSION_TOPIC_KINDS)[number];

export interface DeviceId {
  readonly namespace: string;
  readonly name: string;
}

export type ParsedTopic =
  | { readonly scope: 'device'; readonly namespace: string; readonly name: string; readonly id: string; readonly kind: DeviceTopicKind }
  | { readonly scope: 'node'; readonly node: string; readonly kind: NodeTopicKind }
  | { readonly scope: 'data'; readonly namespace: string; readonly name: string; readonly id: string }
  | { readonly scope: 'edgetwin'; readonly namespace: string; readonly name: string; readonly id: string; readonly kind: ExtensionTopicKind };

const deviceKinds = new Set<string>(DEVICE_TOPIC_KINDS);
const extensionKinds = new Set<string>(EXTENSION_TOPIC_KINDS);
const nodeKinds = new Set<string>(NODE_TOPIC_KINDS);

// A DNS-1123 label (namespaces) or subdomain (names), as Kubernetes requires of both.
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function isValidNamespace(ns: string): boolean {
  return NAMESPACE_RE.test(ns);
}
export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

export function deviceIdString(id: DeviceId): string {
  return `${id.namespace}/${id.name}`;
}

/** Splits `ns/name` (or a bare `name`, which means namespace `default`). Undefined if malformed. */
export function parseDeviceId(text: string): DeviceId | undefined {
  const parts = text.split('/');
  const [a, b] = parts;
  if (parts.length === 1 && a !== undefined && isValidName(a)) return { namespace: 'default', name: a };
  if (parts.length === 2 && a !== undefined && b !== undefined && isValidNamespace(a) && isValidName(b)) {
    return { namespace: a, name: b };
  }
  return undefined;
}

// Topic strings are built for every outgoing message; the set of (device, kind) pairs is small
// and stable, so a bounded cache saves the concatenation and the garbage on the hot path.
const TOPIC_CACHE_LIMIT = 200_000;
const topicCache = new Map<string, string>();

export function deviceTopic(namespace: string, name: string, kind: DeviceTopicKind): string {
  const key = `${kind}\u0000${namespace}\u0000${name}`;
  let topic = topicCache.get(key);
  if (topic === undefined) {
    topic = `${DEVICE_PREFIX}${namespace}/${name}/${kind}`;
    if (topicCache.size >= TOPIC_CACHE_LIMIT) topicCache.clear();
    topicCache.set(key, topic);
  }
  return topic;
}

/**
 * KubeEdge publishes results for payloads it cannot attribute to a device (bad JSON, bad keys)
 * on the device topic with an empty id: `$hw/events/device//twin/update/result`.
 */
export const ANONYMOUS_UPDATE_RESULT_TOPIC = `${DEVICE_PREFIX}/twin/update/result`;

export function nodeTopic(node: string, kind: NodeTopicKind): string {
  return `${NODE_PREFIX}${node}/${kind}`;
}

export function dataTopic(namespace: string, name: string): string {
  return `${DATA_PREFIX}${namespace}/${name}/data/update`;
}

export function extensionTopic(namespace: string, name: string, kind: ExtensionTopicKind): string {
  return `${EDGETWIN_DEVICE_PREFIX}${namespace}/${name}/${kind}`;
}

/** `<ns>/<name>/<kind>` after a prefix, checked; undefined if malformed. */
function splitDeviceRest<K extends string>(rest: string, kinds: ReadonlySet<string>): { namespace: string; name: string; kind: K } | undefined {
  const first = rest.indexOf('/');
  const second = first < 0 ? -1 : rest.indexOf('/', first + 1);
  if (second < 0) return undefined;
  const namespace = rest.slice(0, first);
  const name = rest.slice(first + 1, second);
  const kind = rest.slice(second + 1);
  if (!kinds.has(kind) || !isValidNamespace(namespace) || !isValidName(name)) return undefined;
  return { namespace, name, kind: kind as K };
}

/** Parses any edgetwin/KubeEdge topic; undefined for anything else (including pre-1.17 one-segment ids). */
export function parseTopic(topic: string): ParsedTopic | undefined {
  if (topic.startsWith(DEVICE_PREFIX)) {
    const parts = splitDeviceRest<DeviceTopicKind>(topic.slice(DEVICE_PREFIX.length), deviceKinds);
    return parts && { scope: 'device', ...parts, id: `${parts.namespace}/${parts.name}` };
  }
  if (topic.startsWith(EDGETWIN_DEVICE_PREFIX)) {
    const parts = splitDeviceRest<ExtensionTopicKind>(topic.slice(EDGETWIN_DEVICE_PREFIX.length), extensionKinds);
    return parts && { scope: 'edgetwin', ...parts, id: `${parts.namespace}/${parts.name}` };
  }
  if (topic.startsWith(NODE_PREFIX)) {
    const rest = topic.slice(NODE_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) return undefined;
    const node = rest.slice(0, slash);
    const kind = rest.slice(slash + 1);
    if (!nodeKinds.has(kind)) return undefined;
    return { scope: 'node', node, kind: kind as NodeTopicKind };
  }
  if (topic.startsWith(DATA_PREFIX) && topic.endsWith('/data/update')) {
    const id = topic.slice(DATA_PREFIX.length, -'/data/update'.length);
    const parsed = parseDeviceId(id);
    if (!parsed || !id.includes('/')) return undefined;
    return { scope: 'data', namespace: parsed.namespace, name: parsed.name, id };
  }
  return undefined;
}

// Character codes for the hot path in topicMatches.
const PLUS = 43;
const HASH = 35;
const DOLLAR = 36;

/**
 * MQTT topic filter matching (`+` one level, `#` the rest), [MQTT-4.7.1]. A filter that starts
 * with a wildcard never matches a topic that starts with `$` [MQTT-4.7.2-1], so `#` does not
 * see `$hw/...` or `$SYS/...` (brokers apply the same rule; local dispatch must agree).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const first = filter.charCodeAt(0);
  if ((first === PLUS || first === HASH) && topic.charCodeAt(0) === DOLLAR) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    // [MQTT-4.7.1-2]: `sport/#` also matches the parent level `sport`.
    if (level === '#') return i < t.length || (i === t.length && i > 0);
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A topic a client may PUBLISH to: non-empty, no wildcards [MQTT-3.3.2-2], no NUL [MQTT-1.5.3-2]. */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/**
 * A topic filter a client may SUBSCRIBE to: non-empty, `#` only as the whole last level
 * [MQTT-4.7.1-2], `+` only as a whole level [MQTT-4.7.1-3], no NUL [MQTT-1.5.3-2].
 */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] ?? '';
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    if (level.includes('+') && level !== '+') return false;
  }
  return true;
}

/**
 * May a message on `topic` be retained? Nothing under `$hw/` may: its topics carry requests
 * and the twin's answers to them (results, deltas, documents, membership), each true of one
 * moment. A retained one is replayed to every later subscriber as if new: a forged retained
 * delta made an out-of-process mapper write its value again on every resubscribe. Current
 * state is read with `twin/get`, never from a retained message (docs/security.md).
 */
export function isRetainable(topic: string): boolean {
  return !topic.startsWith('$hw/');
}

/** Request kinds: a client publishes them and the twin answers. The other kinds are answers. */
export const DEVICE_REQUEST_KINDS: ReadonlySet<DeviceTopicKind> = new Set(['twin/update', 'twin/get', 'twin/cloud_updated', 'state/update']);

/** Why a `$hw/events/device/...` topic is not one parseTopic accepts. */
export type DeviceTopicProblem =
  | { readonly problem: 'id'; readonly kind: DeviceTopicKind; readonly id: string }
  | { readonly problem: 'kind' }
  | { readonly problem: 'none' };

/**
 * Classifies a topic under DEVICE_PREFIX: a known kind after an id that is not
 * `<namespace>/<name>` (`id`, e.g. a pre-1.17 one-segment id, upper case, `_`, too long),
 * no known kind at the end (`kind`), or nothing wrong (`none`). Linear: one suffix test per kind.
 */
export function deviceTopicProblem(topic: string): DeviceTopicProblem {
  if (parseTopic(topic)?.scope === 'device') return { problem: 'none' };
  const rest = topic.slice(DEVICE_PREFIX.length);
  // No kind ends with `/` + another kind, so at most one kind ends the topic.
  for (const kind of DEVICE_TOPIC_KINDS) {
    if (rest === kind || rest.endsWith(`/${kind}`)) {
      return { problem: 'id', kind, id: rest.slice(0, Math.max(0, rest.length - kind.length - 1)) };
    }
  }
  return { problem: 'kind' };
}

/** The history requests telemetry/ serves (docs/mqtt-api.md, edgetwin extensions). */
export const HISTORY_GET_FILTER = `${EDGETWIN_DEVICE_PREFIX}+/+/history/get`;

/** The subscriptions the twin module serves (what KubeEdge's eventbus subscribes to, §1). */
export const TWIN_INGEST_FILTERS = [
  `${DEVICE_PREFIX}+/+/twin/update`,
  `${DEVICE_PREFIX}+/+/twin/get`,
  `${DEVICE_PREFIX}+/+/twin/cloud_updated`,
  `${DEVICE_PREFIX}+/+/state/update`,
  `${NODE_PREFIX}+/membership/get`,
] as const;
