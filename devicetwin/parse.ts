// Decoding of incoming payloads: bytes → UTF-8 → JSON → the message's shape, once per message.
// Go's encoding/json (which KubeEdge uses) matches struct keys case-insensitively, so
// `{"Event_ID": ...}` or `{"State": "ok"}` are accepted here too (kubeedge-notes §1.1);
// twin property names, being map keys, stay case-sensitive.

import { isUtf8 } from 'node:buffer';
import { edgetwinError, type EdgetwinError, type ErrorCode, type ErrorDetail } from '../errors.js';
import type { WireAck, WireVersion } from './wire.js';

export interface ParseLimits {
  readonly maxPayloadBytes: number;
  /** Nesting of objects/arrays; a twin update needs 5. */
  readonly maxDepth: number;
  /** Properties one twin update may name (mqtt.limits.maxTwinsPerMessage); unlimited when absent. */
  readonly maxTwinsPerMessage?: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxPayloadBytes: 256 * 1024, maxDepth: 16 };

/** One property of an update, as sent. Values are still wire strings (checked against the model in merge). */
export interface TwinPatch {
  readonly expected?: string;
  readonly actual?: string;
  readonly optional?: boolean;
  /** `metadata.type` as sent. */
  readonly type?: string;
  readonly ack?: WireAck;
  readonly expectedVersion?: WireVersion;
  readonly actualVersion?: WireVersion;
}

export interface ParsedUpdate {
  readonly eventId: string;
  /** null = delete the (optional) twin. Insertion order is the message's. */
  readonly twins: ReadonlyMap<string, TwinPatch | null>;
  readonly version?: number;
}

/**
 * A decoded payload, or why not. `anonymous`: KubeEdge could not even decode the message (its Go
 * `json.Unmarshal` failed, a twin key broke the key regex, or `twin` was missing), so it answers
 * with `event_id ""` on `$hw/events/device//twin/update/result` (`Updated` and `dealUpdateResult`
 * in edge/pkg/devicetwin/dtmanager/twin.go pass an empty device id and event id).
 */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: EdgetwinError; readonly eventId: string; readonly anonymous?: true };

type JsonObject = { [key: string]: unknown };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a struct field the way Go does: exact key first, then a case-insensitive match. */
function field(obj: JsonObject, key: string): unknown {
  const exact = obj[key];
  if (exact !== undefined) return exact;
  for (const k in obj) {
    if (k.length === key.length && k.toLowerCase() === key) return obj[k];
  }
  return undefined;
}

/** Nesting depth of a JSON text, counted without parsing (so a hostile payload cannot overflow the stack). */
function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/** bytes → JSON object, with the payload-level checks every message kind shares. */
export function decodeJson(payload: Buffer, limits: ParseLimits = DEFAULT_PARSE_LIMITS): Parsed<JsonObject> {
  const fail = (error: EdgetwinError): Parsed<JsonObject> => ({ ok: false, error, eventId: '', anonymous: true });
  if (payload.length > limits.maxPayloadBytes) {
    return fail(edgetwinError('EDGETWIN_ERR_PAYLOAD_TOO_LARGE', `payload of ${payload.length} bytes exceeds the limit of ${limits.maxPayloadBytes} bytes`));
  }
  if (!isUtf8(payload)) return fail(edgetwinError('EDGETWIN_ERR_PAYLOAD_ENCODING', 'payload is not valid UTF-8'));
  const text = payload.toString('utf8');
  if (jsonDepthExceeds(text, limits.maxDepth)) {
    return fail(edgetwinError('EDGETWIN_ERR_PAYLOAD_TOO_DEEP', `payload nests deeper than ${limits.maxDepth} levels`));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail(edgetwinError('EDGETWIN_ERR_PAYLOAD_JSON', `payload is not valid JSON: ${(err as Error).message}`));
  }
  if (!isObject(value)) return fail(edgetwinError('EDGETWIN_ERR_PAYLOAD_SHAPE', 'payload must be a JSON object'));
  // Valid UTF-8 cannot hold a lone UTF-16 surrogate, but a JSON escape can (`"\ud800"`, RFC 8259
  // §8.2 leaves it to the parser). No store or peer can keep one: SQLite and Buffer write it
  // as U+FFFD, so it would be acknowledged and read back changed. Refused whole, like bad UTF-8.
  if (SURROGATE_ESCAPE.test(text) && !wellFormed(value)) {
    // Answered as bad UTF-8 is: anonymously, with event_id "" (docs/mqtt-api.md).
    return fail(edgetwinError('EDGETWIN_ERR_PAYLOAD_ENCODING', 'payload has a string with a lone UTF-16 surrogate escape (such as \\ud800), which UTF-8 cannot carry'));
  }
  return { ok: true, value };
}

/** A `\u` escape of a UTF-16 surrogate (D800–DFFF): only then can a parsed string be ill-formed. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** In a `u` regex a surrogate pair is one code point, so only a lone surrogate is category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Every string (keys included) is well-formed UTF-16; depth was bounded before parsing. */
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return !LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.every(wellFormed);
  if (typeof value !== 'object' || value === null) return true;
  for (const key in value) {
    if (LONE_SURROGATE.test(key) || !wellFormed((value as JsonObject)[key])) return false;
  }
  return true;
}

/** `event_id` if it is a string (KubeEdge echoes it), '' otherwise. */
export function eventIdOf(obj: JsonObject): string {
  const id = field(obj, 'event_id');
  return typeof id === 'string' ? id : '';
}

function shapeError(eventId: string, message: string, details: ErrorDetail[] = []): Parsed<never> {
  return { ok: false, error: edgetwinError('EDGETWIN_ERR_PAYLOAD_SHAPE', message, details), eventId };
}

/** What KubeEdge's decoder would refuse too: answered anonymously (see {@link Parsed}). */
function undecodable(code: ErrorCode, message: string, details: ErrorDetail[] = []): Parsed<never> {
  return { ok: false, error: edgetwinError(code, message, details), eventId: '', anonymous: true };
}

// KubeEdge's twin key regex (dtcommon.ValidateTwinKey), checked while decoding as KubeEdge does,
// before the device is even looked up.
const KEY_RE = /^[a-zA-Z0-9\-_.,:/@#]{1,128}$/;

function readVersion(v: unknown): WireVersion | undefined | false {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return false;
  const cloud = field(v, 'cloud');
  const edge = field(v, 'edge');
  if (!Number.isSafeInteger(cloud) || !Number.isSafeInteger(edge)) return false;
  return { cloud: cloud as number, edge: edge as number };
}

function readValue(v: unknown): string | undefined | false {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return false;
  const value = field(v, 'value');
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : false;
}

const ACK_STATES = new Set(['applied', 'rejected', 'failed']);

function readAck(v: unknown): WireAck | undefined | false {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return false;
  const state = field(v, 'state');
  if (typeof state !== 'string' || !ACK_STATES.has(state)) return false;
  const value = field(v, 'value');
  const code = field(v, 'code');
  const reason = field(v, 'reason');
  if ((value !== undefined && typeof value !== 'string') || (code !== undefined && typeof code !== 'string') || (reason !== undefined && typeof reason !== 'string')) {
    return false;
  }
  return { state: state as WireAck['state'], ...(value !== undefined ? { value } : {}), ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) };
}

function readPatch(key: string, raw: unknown, details: ErrorDetail[]): TwinPatch | null | undefined {
  if (raw === null) return null;
  if (!isObject(raw)) {
    details.push({ path: key, code: 'EDGETWIN_ERR_PAYLOAD_SHAPE', message: 'a twin must be an object or null' });
    return undefined;
  }
  const bad = (what: string): undefined => {
    details.push({ path: key, code: 'EDGETWIN_ERR_PAYLOAD_SHAPE', message: what });
    return undefined;
  };
  const expected = readValue(field(raw, 'expected'));
  if (expected === false) return bad('`expected` must be an object whose `value` is a string');
  const actual = readValue(field(raw, 'actual'));
  if (actual === false) return bad('`actual` must be an object whose `value` is a string');
  const optional = field(raw, 'optional');
  if (optional !== undefined && optional !== null && typeof optional !== 'boolean') return bad('`optional` must be a boolean');
  const metadata = field(raw, 'metadata');
  let type: string | undefined;
  if (metadata !== undefined && metadata !== null) {
    if (!isObject(metadata)) return bad('`metadata` must be an object');
    const t = field(metadata, 'type');
    if (t !== undefined && t !== null && typeof t !== 'string') return bad('`metadata.type` must be a string');
    if (typeof t === 'string' && t !== '') type = t;
  }
  const ack = readAck(field(raw, 'ack'));
  if (ack === false) {
    details.push({ path: key, code: 'EDGETWIN_ERR_ACK_INVALID', message: '`ack` must be {state: applied|rejected|failed, value?, code?, reason?}' });
    return undefined;
  }
  const expectedVersion = readVersion(field(raw, 'expected_version'));
  const actualVersion = readVersion(field(raw, 'actual_version'));
  if (expectedVersion === false || actualVersion === false) return bad('versions must be {cloud: integer, edge: integer}');
  return {
    ...(expected !== undefined ? { expected } : {}),
    ...(actual !== undefined ? { actual } : {}),
    ...(typeof optional === 'boolean' ? { optional } : {}),
    ...(type !== undefined ? { type } : {}),
    ...(ack !== undefined ? { ack } : {}),
    ...(expectedVersion !== undefined ? { expectedVersion } : {}),
    ...(actualVersion !== undefined ? { actualVersion } : {}),
  };
}

/** A `twin/update` or `twin/cloud_updated` payload. */
export function parseTwinUpdate(payload: Buffer, limits?: ParseLimits): Parsed<ParsedUpdate> {
  const decoded = decodeJson(payload, limits);
  if (!decoded.ok) return decoded;
  const obj = decoded.value;
  const eventId = eventIdOf(obj);
  const twin = field(obj, 'twin');
  // KubeEdge: "Update twin error, key:twin does not exist" (400), or a failed json.Unmarshal.
  if (!isObject(twin)) return undecodable('EDGETWIN_ERR_PAYLOAD_SHAPE', twin === undefined || twin === null ? 'update has no `twin` object' : '`twin` must be an object');
  const version = field(obj, 'version');
  if (version !== undefined && version !== null && !(Number.isSafeInteger(version) && (version as number) >= 0)) {
    return shapeError(eventId, '`version` must be a non-negative integer');
  }
  const count = Object.keys(twin).length;
  if (limits?.maxTwinsPerMessage !== undefined && count > limits.maxTwinsPerMessage) {
    const error = edgetwinError('EDGETWIN_ERR_LIMIT_TWINS', `update names ${count} properties; mqtt.limits.maxTwinsPerMessage is ${limits.maxTwinsPerMessage}`);
    return { ok: false, error, eventId };
  }
  const badKeys: ErrorDetail[] = [];
  for (const key in twin) {
    if (!KEY_RE.test(key)) badKeys.push({ path: key, code: 'EDGETWIN_ERR_PROPERTY_NAME', message: 'twin keys must match ^[a-zA-Z0-9-_.,:/@#]{1,128}$' });
  }
  if (badKeys.length > 0) return undecodable('EDGETWIN_ERR_PROPERTY_NAME', `update rejected: ${badKeys.map((d) => `"${d.path ?? ''}": ${d.message}`).join('; ')}`, badKeys);
  const details: ErrorDetail[] = [];
  const twins = new Map<string, TwinPatch | null>();
  for (const key in twin) {
    const patch = readPatch(key, twin[key], details);
    if (patch !== undefined) twins.set(key, patch);
  }
  if (details.length > 0) {
    const code = details[0]?.code ?? 'EDGETWIN_ERR_PAYLOAD_SHAPE';
    const error = edgetwinError(code, `invalid twin ${details.map((d) => `"${d.path ?? ''}": ${d.message}`).join('; ')}`, details);
    // A field of the wrong JSON type fails KubeEdge's json.Unmarshal; `ack` is edgetwin's own
    // (KubeEdge ignores it), so a bad one is the device's error, answered on its own topic.
    return details.every((d) => d.code === 'EDGETWIN_ERR_PAYLOAD_SHAPE') ? { ok: false, error, eventId: '', anonymous: true } : { ok: false, error, eventId };
  }
  return { ok: true, value: { eventId, twins, ...(typeof version === 'number' ? { version } : {}) } };
}

/**
 * `twin/get`, `membership/get`: `event_id`, and edgetwin's optional `include` (a list of extra
 * fields the answer should carry, docs/mqtt-api.md; KubeEdge ignores the key, and anything but
 * an array of strings is ignored here too). An empty payload is accepted as `{}`.
 */
export function parseBaseMessage(payload: Buffer, limits?: ParseLimits): Parsed<{ eventId: string; include: ReadonlySet<string> }> {
  if (payload.length === 0) return { ok: true, value: { eventId: '', include: NOTHING } };
  const decoded = decodeJson(payload, limits);
  if (!decoded.ok) return decoded;
  const include = field(decoded.value, 'include');
  const names = Array.isArray(include) ? new Set(include.filter((v): v is string => typeof v === 'string')) : NOTHING;
  return { ok: true, value: { eventId: eventIdOf(decoded.value), include: names } };
}

/**
 * A request of edgetwin's own API (`$edgetwin/…`, docs/mqtt-api.md): its `event_id`, and the
 * whole object for the caller to read its fields from. An empty payload is `{}`.
 */
export function parseRequestMessage(payload: Buffer, limits?: ParseLimits): Parsed<{ eventId: string; body: Readonly<Record<string, unknown>> }> {
  if (payload.length === 0) return { ok: true, value: { eventId: '', body: {} } };
  const decoded = decodeJson(payload, limits);
  if (!decoded.ok) return decoded;
  return { ok: true, value: { eventId: eventIdOf(decoded.value), body: decoded.value } };
}

const NOTHING: ReadonlySet<string> = new Set();

/** `state/update`: `{event_id, timestamp, state}`. */
export function parseStateUpdate(payload: Buffer, limits?: ParseLimits): Parsed<{ eventId: string; state: string }> {
  const decoded = decodeJson(payload, limits);
  if (!decoded.ok) return decoded;
  const eventId = eventIdOf(decoded.value);
  const state = field(decoded.value, 'state');
  if (typeof state !== 'string') return shapeError(eventId, 'state update has no string `state`');
  return { ok: true, value: { eventId, state } };
}
