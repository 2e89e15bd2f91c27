// Wire string ⇄ typed value for each KubeType, and the PropertyModel that pairs that codec with
// the property's compiled JSON Schema. This runs for every value of every twin update, so the
// success path allocates only the result object (and the canonical string), and the error
// message is built only on failure.
//
// Deliberately more lenient than KubeEdge (DESIGN.md "DeviceTwin semantics"): KubeEdge checks
// values with `^[a-zA-Z0-9-_.,:/@#]{1,512}$` before `strconv.Parse*`, which rejects " 21",
// "+5" and "1e+10"; here numbers may carry surrounding whitespace, a sign and an exponent.

import { Buffer } from 'node:buffer';
import type { ErrorCode } from '../errors.js';
import { showValue, type ValidateFunction } from './ajv.js';
import type { JsonSchema, KubeType, ParseResult, PropertyModel, PropertyValue } from './types.js';

// Every pattern here is matched against values up to mqtt.maxPayloadBytes long, so each must
// run in time linear in its input (eslint-plugin-regexp's no-super-linear-* rules check it, and
// values.test.ts parses a maximum-size value of every type). The float pattern used to be
// `\d+\.?\d*`: both quantifiers can take the same digits, so a rejected run of n digits was
// retried O(n²) ways (30k digits blocked the event loop for seconds). Here the fraction is
// reached only through the `.`, so every digit has exactly one place in a match.
const INT_RE = /^[+-]?\d+$/;
// Decimal only: Number() alone would also accept "0x1A", "0b1", "Infinity" and "" (→ 0).
const FLOAT_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
// RFC 4648 §4 with padding, no whitespace, no URL-safe alphabet: Buffer.from(s, 'base64')
// silently skips invalid characters, so the shape is checked first.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Returned by a decoder when the wire string is not of the type; the message is built later. */
const INVALID = Symbol('invalid');
type Decoded = PropertyValue | typeof INVALID;

/**
 * True if `text` (surrounding whitespace allowed) is a decimal number: a sign, digits with an
 * optional fraction, an optional exponent. No hex, binary, `Infinity` or empty string, which
 * Number() would accept. Linear in the length of `text`.
 */
export function isDecimalNumber(text: string): boolean {
  return FLOAT_RE.test(text.trim());
}

function decodeInt(wire: string): Decoded {
  const s = wire.trim();
  if (!INT_RE.test(s)) return INVALID;
  const n = Number(s);
  // `+ 0` turns -0 into 0 so "-0" and "0" are the same value.
  return Number.isSafeInteger(n) ? n + 0 : INVALID;
}

function decodeFloat(wire: string): Decoded {
  const s = wire.trim();
  if (!FLOAT_RE.test(s)) return INVALID;
  const n = Number(s);
  return Number.isFinite(n) ? n + 0 : INVALID;
}

function decodeBoolean(wire: string): Decoded {
  const s = wire.trim();
  if (s.length === 4 && (s === 'true' || s.toLowerCase() === 'true')) return true;
  if (s.length === 5 && (s === 'false' || s.toLowerCase() === 'false')) return false;
  return INVALID;
}

function decodeString(wire: string): Decoded {
  return wire;
}

function decodeBytes(wire: string): Decoded {
  if (!BASE64_RE.test(wire)) return INVALID;
  // A copy, not a view: a view of a small Buffer would pin Node's shared 8 KiB pool slab.
  return new Uint8Array(Buffer.from(wire, 'base64'));
}

const DECODERS: Readonly<Record<KubeType, (wire: string) => Decoded>> = {
  int: decodeInt,
  float: decodeFloat,
  double: decodeFloat,
  boolean: decodeBoolean,
  string: decodeString,
  bytes: decodeBytes,
};

/** Why `wire` does not decode as `type`; only called on the failure path. */
export function wireTypeMessage(type: KubeType, wire: string): string {
  const shown = showValue(wire);
  switch (type) {
    case 'int': {
      const s = wire.trim();
      if (INT_RE.test(s)) return `${shown} is outside the safe integer range (±${Number.MAX_SAFE_INTEGER})`;
      return `${shown} is not an integer`;
    }
    case 'float':
    case 'double':
      return FLOAT_RE.test(wire.trim()) ? `${shown} is out of range for a ${type}` : `${shown} is not a number`;
    case 'boolean':
      return `${shown} is not a boolean (true or false)`;
    case 'bytes':
      return `${shown} is not base64`;
    case 'string':
      return `${shown} is not a string`;
  }
}

function showTyped(value: PropertyValue): string {
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  return typeof value === 'string' ? showValue(value) : String(value);
}

/** Is `value` of `type` (for values handed over already typed, e.g. by a mapper)? */
function isOfType(type: KubeType, value: PropertyValue): boolean {
  switch (type) {
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'float':
    case 'double':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'bytes':
      return value instanceof Uint8Array;
  }
}

const TYPE_NOUN: Readonly<Record<KubeType, string>> = {
  int: 'a safe integer',
  float: 'a finite number',
  double: 'a finite number',
  boolean: 'a boolean',
  string: 'a string',
  bytes: 'a Uint8Array',
};

function encodeBytes(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
}

/** The canonical wire string of an already-checked value: "1e1" → "10", "TRUE" → "true". */
function canonicalWire(value: PropertyValue): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return encodeBytes(value);
  return String(value);
}

/** ajv's first error as a sentence; enum failures list the allowed values. */
function validationMessage(validate: ValidateFunction): string {
  const error = validate.errors?.[0];
  if (!error) return 'fails its schema';
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues?: unknown }).allowedValues;
    if (Array.isArray(allowed)) return `must be one of ${allowed.map(showValue).join(', ')}`;
  }
  return error.message ?? `fails "${error.keyword}"`;
}

function failure(code: ErrorCode, message: string): ParseResult {
  return { ok: false, code, message };
}

export interface PropertyModelInit {
  readonly name: string;
  readonly type: KubeType;
  readonly schema: JsonSchema;
  /** The property's subschema compiled once by ajv (allErrors off: the first error is enough). */
  readonly validate: ValidateFunction;
}

/** The KubeType a (model-checked) property subschema maps to, per DESIGN.md. */
export function kubeTypeOf(schema: JsonSchema): KubeType {
  switch (schema.type) {
    case 'integer':
      return 'int';
    case 'number':
      return schema.format === 'double' ? 'double' : 'float';
    case 'boolean':
      return 'boolean';
    default:
      return schema.contentEncoding === 'base64' ? 'bytes' : 'string';
  }
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function createPropertyModel(init: PropertyModelInit): PropertyModel {
  const { name, type, schema, validate } = init;
  const decode = DECODERS[type];
  // bytes are validated as their base64 text: that is the JSON instance the schema describes.
  const schemaInstance =
    type === 'bytes'
      ? (value: PropertyValue, wire: string): unknown => wire
      : (value: PropertyValue): unknown => value;

  const accept = (value: PropertyValue, wire: string): ParseResult =>
    validate(schemaInstance(value, wire))
      ? { ok: true, value, wire }
      : failure('EDGETWIN_ERR_MODEL_VALIDATION', validationMessage(validate));

  const model: PropertyModel = {
    name,
    type,
    readOnly: schema.readOnly === true,
    unit: optionalString(schema.unit),
    description: optionalString(schema.description),
    minimum: optionalNumber(schema.minimum) ?? optionalNumber(schema.exclusiveMinimum),
    maximum: optionalNumber(schema.maximum) ?? optionalNumber(schema.exclusiveMaximum),
    schema,
    parse(wire: string): ParseResult {
      if (typeof wire !== 'string') return failure('EDGETWIN_ERR_VALUE_TYPE', `${showValue(wire)} is not a string`);
      const value = decode(wire);
      if (value === INVALID) return failure('EDGETWIN_ERR_VALUE_TYPE', wireTypeMessage(type, wire));
      return accept(value, canonicalWire(value));
    },
    check(value: PropertyValue): ParseResult {
      if (!isOfType(type, value)) return failure('EDGETWIN_ERR_VALUE_TYPE', `${showTyped(value)} is not ${TYPE_NOUN[type]}`);
      const typed = typeof value === 'number' ? value + 0 : value;
      return accept(typed, canonicalWire(typed));
    },
  };
  return model;
}

/**
 * The shortest decimal that is the same float32: 21.5f reads 21.5, 0.1f reads 0.1, not 0.10000000149.
 * Mappers use it for float32 registers and characteristics; DMI for FloatValue (Go prints the same).
 */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let digits = 1; digits < 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/**
 * Whether a read-back value equals the desired one. Floats go through the device's own
 * representation (e.g. float32 registers: 21.1 reads back as 21.100000381…), so they compare
 * with a relative tolerance; everything else compares canonical wire strings.
 */
export function sameReading(type: KubeType, desired: string, actual: string): boolean {
  if (desired === actual) return true;
  if (type === 'float' || type === 'double') {
    const a = Number(desired);
    const b = Number(actual);
    return Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return false;
}
