// configData values ⇄ google.protobuf.Any, as KubeEdge's DMI carries them (docs/dmi.md, "Any").
//
// edgecore packs a Device's configData map value by value (kubeedge/kubeedge
// edge/pkg/devicetwin/dtcommon/util.go `dataToAny`): strings as StringValue, every number as
// FloatValue (float32: JSON numbers arrive as float64 and are narrowed), booleans as BoolValue,
// and it refuses anything else, failing the whole Device. mapper-framework decodes StringValue,
// FloatValue, Int32Value, Int64Value and BoolValue (pkg/common/dataconverter.go `DecodeAnyValue`)
// and drops any other key. So, packing:
// - numbers as FloatValue when float32 carries them exactly (shortest digits, as Go prints them),
//   integers that it cannot as Int32Value/Int64Value (which mapper-framework also decodes), and
//   any other number is refused: it would arrive changed;
// - nested maps and lists only for peers that decode them (edgetwin's own mappers), as the
//   well-known Struct and ListValue; for a KubeEdge mapper they are refused, as edgecore does;
// - null and anything else refused.
// Unpacking accepts all of the above plus DoubleValue and the unsigned wrappers.

import protobufjs from 'protobufjs';
import { edgetwinError, type ErrorDetail } from '../errors.js';
import { shortestFloat32 } from '../schemas/index.js';
import type { PbAny, PbConfigData } from './messages.js';

const PREFIX = 'type.googleapis.com/google.protobuf.';

/** Decoded Struct/ListValue nesting past this is refused (a hostile peer cannot exhaust the stack). */
export const MAX_NESTING = 32;

let types: Record<string, protobufjs.Type> | undefined;

function wellKnown(name: string): protobufjs.Type {
  if (!types) {
    const root = new protobufjs.Root();
    for (const file of ['google/protobuf/wrappers.proto', 'google/protobuf/struct.proto']) {
      const json = protobufjs.common.get(file);
      if (json) root.addJSON(json.nested ?? {});
    }
    const names = ['StringValue', 'FloatValue', 'DoubleValue', 'Int32Value', 'Int64Value', 'UInt32Value', 'UInt64Value', 'BoolValue', 'Struct', 'Value', 'ListValue'];
    types = Object.fromEntries(names.map((n) => [n, root.lookupType(`google.protobuf.${n}`)]));
  }
  const t = types[name];
  if (!t) throw new Error(`no well-known type ${name}`);
  return t;
}

function pack(name: string, message: { value?: unknown } | object): PbAny {
  const type = wellKnown(name);
  // proto3 leaves a default out (Go's encoder does: BoolValue(false) is an empty value);
  // protobufjs writes any field that is set, so unset it first.
  const v = (message as { value?: unknown }).value;
  const body = v === false || v === '' || (v === 0 && !Object.is(v, -0)) ? {} : message;
  return { type_url: PREFIX + name, value: type.encode(type.fromObject(body)).finish() };
}

export interface PackOptions {
  /** Pack nested maps and lists as Struct/ListValue (edgetwin peers); otherwise refuse them. */
  readonly nested: boolean;
}

/** Whether float32 carries `x` so that the receiver prints it back the same. */
function float32Exact(x: number): boolean {
  return shortestFloat32(Math.fround(x)) === x;
}

function refuse(path: string, message: string): never {
  throw edgetwinError('EDGETWIN_ERR_DMI_VALUE', `${path}: ${message}`, [{ path, message }]);
}

/** A JSON value as a google.protobuf.Value (inside a Struct or ListValue). */
function toValue(v: unknown, path: string, depth: number): object {
  if (depth > MAX_NESTING) refuse(path, `nests deeper than ${MAX_NESTING} levels`);
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) refuse(path, `${v} is not a finite number`);
    return { numberValue: v };
  }
  if (Array.isArray(v)) return { listValue: { values: v.map((x, i) => toValue(x, `${path}/${i}`, depth + 1)) } };
  if (typeof v === 'object') return { structValue: toStruct(v as Record<string, unknown>, path, depth + 1) };
  return refuse(path, `a ${typeof v} cannot be sent`);
}

function toStruct(obj: Record<string, unknown>, path: string, depth: number): object {
  const fields: Record<string, object> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v, `${path}/${k}`, depth);
  return { fields };
}

/** One configData value → Any. Throws EDGETWIN_ERR_DMI_VALUE naming `path`. */
export function packValue(value: unknown, path: string, options: PackOptions): PbAny {
  switch (typeof value) {
    case 'string':
      return pack('StringValue', { value });
    case 'boolean':
      return pack('BoolValue', { value });
    case 'number': {
      if (!Number.isFinite(value)) return refuse(path, `${value} is not a finite number`);
      if (float32Exact(value)) return pack('FloatValue', { value });
      if (Number.isSafeInteger(value)) return Math.abs(value) < 2 ** 31 ? pack('Int32Value', { value }) : pack('Int64Value', { value });
      return refuse(path, `${value} would arrive as ${shortestFloat32(Math.fround(value))}: KubeEdge's DMI narrows numbers to float32; write it as a string`);
    }
    case 'object':
      if (value === null) return refuse(path, 'null cannot be sent');
      if (!options.nested) {
        return refuse(path, "a nested map or list cannot be sent to a KubeEdge mapper (edgecore's DMI carries scalars only): flatten it");
      }
      return Array.isArray(value)
        ? pack('ListValue', { values: value.map((x, i) => toValue(x, `${path}/${i}`, 1)) })
        : pack('Struct', toStruct(value as Record<string, unknown>, path, 1));
    default:
      return refuse(path, `a ${typeof value} cannot be sent`);
  }
}

/** A configData map → Any map; every bad key is listed in one EDGETWIN_ERR_DMI_VALUE. */
export function packConfig(data: { readonly [key: string]: unknown }, path: string, options: PackOptions): PbConfigData {
  const out: PbConfigData = {};
  const problems: ErrorDetail[] = [];
  for (const [key, value] of Object.entries(data)) {
    try {
      out[key] = packValue(value, `${path}/${key}`, options);
    } catch (err) {
      problems.push(...((err as { details?: ErrorDetail[] }).details ?? [{ path: `${path}/${key}`, message: String(err) }]));
    }
  }
  if (problems.length > 0) {
    throw edgetwinError('EDGETWIN_ERR_DMI_VALUE', `configData cannot travel over DMI: ${problems.map((p) => `${p.path ?? ''} ${p.message}`).join('; ')}`, problems);
  }
  return out;
}

interface DecodedValue {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, DecodedValue> };
  listValue?: { values?: DecodedValue[] };
}

function fromValue(v: DecodedValue, path: string, depth: number): unknown {
  if (depth > MAX_NESTING) refuse(path, `nests deeper than ${MAX_NESTING} levels`);
  if (v.structValue !== undefined) return fromStruct(v.structValue, path, depth + 1);
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map((x, i) => fromValue(x, `${path}/${i}`, depth + 1));
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.numberValue !== undefined) return v.numberValue;
  return null;
}

function fromStruct(s: { fields?: Record<string, DecodedValue> }, path: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.fields ?? {})) out[k] = fromValue(v, `${path}/${k}`, depth);
  return out;
}

const SCALARS = new Set(['StringValue', 'FloatValue', 'DoubleValue', 'Int32Value', 'Int64Value', 'UInt32Value', 'UInt64Value', 'BoolValue']);

/** Any → a configData value. Throws EDGETWIN_ERR_DMI_VALUE naming `path` (unknown type, bad bytes). */
export function unpackValue(any: PbAny, path: string): unknown {
  const url = typeof any.type_url === 'string' ? any.type_url : '';
  // As mapper-framework: the name after the last '/', whatever the host part says.
  const full = url.slice(url.lastIndexOf('/') + 1);
  const name = full.startsWith('google.protobuf.') ? full.slice('google.protobuf.'.length) : '';
  if (!SCALARS.has(name) && name !== 'Struct' && name !== 'ListValue' && name !== 'Value') {
    return refuse(path, `an Any of type "${url}" cannot be decoded (expected a google.protobuf wrapper)`);
  }
  let decoded: Record<string, unknown>;
  try {
    const type = wellKnown(name);
    // A plain Uint8Array view: protobufjs's Buffer reader clamps a string that runs past the end
    // (Buffer#utf8Slice) instead of failing; its Uint8Array reader checks every length.
    const raw = any.value ?? new Uint8Array();
    const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    decoded = type.toObject(type.decode(bytes), { longs: String, defaults: true });
  } catch (err) {
    // Truncated or garbled bytes, or nesting deep enough to overflow protobufjs's decoder.
    return refuse(path, `the ${name} bytes do not decode (${err instanceof Error ? err.message : String(err)})`);
  }
  if (SCALARS.has(name)) {
    const v = decoded.value;
    if (name === 'FloatValue') return shortestFloat32(Number(v));
    if (name.endsWith('Int64Value')) {
      const n = Number(v);
      if (!Number.isSafeInteger(n)) return refuse(path, `${String(v)} is outside the safe integer range`);
      return n;
    }
    return v;
  }
  if (name === 'Struct') return fromStruct(decoded, path, 1);
  if (name === 'ListValue') return ((decoded.values as DecodedValue[] | undefined) ?? []).map((x, i) => fromValue(x, `${path}/${i}`, 1));
  return fromValue(decoded, path, 1);
}

/** An Any map → configData; every bad key is listed in one EDGETWIN_ERR_DMI_VALUE. */
export function unpackConfig(data: PbConfigData | undefined, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const problems: ErrorDetail[] = [];
  for (const [key, any] of Object.entries(data ?? {})) {
    try {
      out[key] = unpackValue(any, `${path}/${key}`);
    } catch (err) {
      problems.push(...((err as { details?: ErrorDetail[] }).details ?? [{ path: `${path}/${key}`, message: String(err) }]));
    }
  }
  if (problems.length > 0) {
    throw edgetwinError('EDGETWIN_ERR_DMI_VALUE', `configData cannot be decoded: ${problems.map((p) => `${p.path ?? ''} ${p.message}`).join('; ')}`, problems);
  }
  return out;
}
