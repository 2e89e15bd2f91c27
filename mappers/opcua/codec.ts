// OPC UA values <-> property values. Pure: works on the built-in type ids of OPC 10000-6 §5.1.2
// (node-opcua's DataType enum has the same numbers) so it is tested without loading node-opcua.
// The model's type decides the result, as KubeEdge's mapper turns every value into a string
// (mappers-go mappers/opcua/driver/client.go valueToString): a string property takes any scalar.

import { edgetwinError, type EdgetwinError, type KubeType, type PropertyValue } from 'edgetwin';
import { shortestFloat32 } from 'edgetwin/sdk';
import type { OpcuaDataTypeName } from './config.js';

export const BUILTIN = {
  Boolean: 1, SByte: 2, Byte: 3, Int16: 4, UInt16: 5, Int32: 6, UInt32: 7, Int64: 8, UInt64: 9,
  Float: 10, Double: 11, String: 12, DateTime: 13, Guid: 14, ByteString: 15, XmlElement: 16,
  NodeId: 17, ExpandedNodeId: 18, StatusCode: 19, QualifiedName: 20, LocalizedText: 21,
} as const satisfies Record<string, number>;

const NAMES: ReadonlyMap<number, string> = new Map(Object.entries(BUILTIN).map(([k, v]) => [v, k]));

const INT_RANGES: ReadonlyMap<number, readonly [number, number]> = new Map([
  [BUILTIN.SByte, [-128, 127]],
  [BUILTIN.Byte, [0, 255]],
  [BUILTIN.Int16, [-32768, 32767]],
  [BUILTIN.UInt16, [0, 65535]],
  [BUILTIN.Int32, [-2147483648, 2147483647]],
  [BUILTIN.UInt32, [0, 4294967295]],
  [BUILTIN.Int64, [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]],
  [BUILTIN.UInt64, [0, Number.MAX_SAFE_INTEGER]],
]);

/** What node-opcua hands over for a Value attribute (a Variant's fields). */
export interface RawVariant {
  readonly dataType: number;
  /** 0 for a scalar (VariantArrayType.Scalar). */
  readonly arrayType: number;
  readonly value: unknown;
}

/** What to write: node-opcua builds its Variant from this. */
export interface EncodedVariant {
  readonly dataType: number;
  readonly value: unknown;
}

export function builtinName(id: number): string {
  return NAMES.get(id) ?? `DataType ${id}`;
}

export function builtinId(name: OpcuaDataTypeName): number {
  return BUILTIN[name];
}

function valueError(nodeId: string, message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_OPCUA_VALUE', `node ${nodeId}: ${message}`);
}

/** node-opcua keeps 64-bit integers as [high, low] 32-bit words. */
function fromWords(v: unknown, signed: boolean): number | undefined {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') return undefined;
  const big = (BigInt(v[0] >>> 0) << 32n) | BigInt(v[1] >>> 0);
  const n = signed ? BigInt.asIntN(64, big) : big;
  return n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER) ? undefined : Number(n);
}

function toWords(n: number): [number, number] {
  const big = BigInt.asUintN(64, BigInt(n));
  return [Number(big >> 32n), Number(big & 0xffff_ffffn)];
}

/** LocalizedText.text, QualifiedName.name: a string field of a structure, '' when absent. */
function textField(value: unknown, key: 'text' | 'name'): string {
  const field = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return typeof field === 'string' ? field : '';
}

/** A scalar as a JS value: number, boolean, string or bytes, before the model's type is applied. */
function scalar(v: RawVariant, nodeId: string): PropertyValue | EdgetwinError {
  const { dataType, value } = v;
  switch (dataType) {
    case BUILTIN.Boolean:
      return value === true;
    case BUILTIN.Int64:
    case BUILTIN.UInt64: {
      const n = fromWords(value, dataType === BUILTIN.Int64);
      return n ?? valueError(nodeId, `${builtinName(dataType)} ${JSON.stringify(value)} is beyond 2^53 (not exact as a number)`);
    }
    case BUILTIN.SByte: case BUILTIN.Byte: case BUILTIN.Int16: case BUILTIN.UInt16:
    case BUILTIN.Int32: case BUILTIN.UInt32: case BUILTIN.Double:
      return typeof value === 'number' ? value : valueError(nodeId, `${builtinName(dataType)} is not a number`);
    case BUILTIN.Float:
      // Shortest decimal that round-trips through float32: 21.5, not 21.500000000000004.
      return typeof value === 'number' ? shortestFloat32(value) : valueError(nodeId, 'Float is not a number');
    case BUILTIN.String: case BUILTIN.XmlElement:
      return typeof value === 'string' ? value : value === null ? '' : valueError(nodeId, `${builtinName(dataType)} is not a string`);
    case BUILTIN.ByteString:
      return value instanceof Uint8Array ? value : value === null ? new Uint8Array(0) : valueError(nodeId, 'ByteString is not bytes');
    case BUILTIN.DateTime:
      return value instanceof Date ? value.toISOString() : valueError(nodeId, 'DateTime is not a date');
    case BUILTIN.LocalizedText:
      return textField(value, 'text');
    case BUILTIN.QualifiedName:
      return textField(value, 'name');
    case BUILTIN.Guid: case BUILTIN.NodeId: case BUILTIN.ExpandedNodeId: case BUILTIN.StatusCode:
      return String(value);
    default:
      return valueError(nodeId, `${builtinName(dataType)} values are not supported (only scalars of the built-in types)`);
  }
}

/** Turns a Value attribute into the property's type, or EDGETWIN_ERR_OPCUA_VALUE. */
export function decodeValue(v: RawVariant, type: KubeType, nodeId: string): PropertyValue | EdgetwinError {
  if (v.arrayType !== 0) return valueError(nodeId, 'holds an array or matrix; only scalar values map to a property');
  if (v.dataType === 0) return valueError(nodeId, 'holds no value (Null)');
  const s = scalar(v, nodeId);
  if (s instanceof Error) return s;
  switch (type) {
    case 'boolean':
      if (typeof s === 'boolean') return s;
      if (typeof s === 'number' && (s === 0 || s === 1)) return s === 1;
      return valueError(nodeId, `${builtinName(v.dataType)} ${describe(s)} is not a boolean`);
    case 'int':
      if (typeof s === 'number' && Number.isInteger(s)) return s;
      if (typeof s === 'boolean') return s ? 1 : 0;
      return valueError(nodeId, `${builtinName(v.dataType)} ${describe(s)} is not an integer`);
    case 'float':
    case 'double':
      if (typeof s === 'number') return s;
      return valueError(nodeId, `${builtinName(v.dataType)} ${describe(s)} is not a number`);
    case 'string':
      if (s instanceof Uint8Array) return Buffer.from(s).toString('utf8');
      return String(s);
    case 'bytes':
      if (s instanceof Uint8Array) return s;
      if (typeof s === 'string') return new Uint8Array(Buffer.from(s, 'utf8'));
      return valueError(nodeId, `${builtinName(v.dataType)} ${describe(s)} is not bytes`);
  }
}

function describe(v: PropertyValue): string {
  return v instanceof Uint8Array ? `(${v.length} bytes)` : JSON.stringify(v);
}

/** A property value as the given built-in type, or EDGETWIN_ERR_OPCUA_VALUE. */
export function encodeValue(value: PropertyValue, dataType: number, nodeId: string): EncodedVariant | EdgetwinError {
  const name = builtinName(dataType);
  const range = INT_RANGES.get(dataType);
  if (range) {
    const n = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < range[0] || n > range[1]) {
      return valueError(nodeId, `${describe(value)} does not fit ${name} (${range[0]}..${range[1]})`);
    }
    return { dataType, value: dataType === BUILTIN.Int64 || dataType === BUILTIN.UInt64 ? toWords(n) : n };
  }
  switch (dataType) {
    case BUILTIN.Boolean:
      if (typeof value === 'boolean') return { dataType, value };
      if (value === 0 || value === 1) return { dataType, value: value === 1 };
      break;
    case BUILTIN.Float:
    case BUILTIN.Double:
      if (typeof value === 'number') return { dataType, value };
      break;
    case BUILTIN.String:
    case BUILTIN.XmlElement:
      if (typeof value === 'string') return { dataType, value };
      if (typeof value === 'number' || typeof value === 'boolean') return { dataType, value: String(value) };
      break;
    case BUILTIN.LocalizedText:
      if (typeof value === 'string') return { dataType, value: { text: value } };
      break;
    case BUILTIN.ByteString:
      if (value instanceof Uint8Array) return { dataType, value: Buffer.from(value) };
      if (typeof value === 'string') return { dataType, value: Buffer.from(value, 'utf8') };
      break;
    case BUILTIN.DateTime:
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return { dataType, value: new Date(value) };
      break;
    default:
      return valueError(nodeId, `writing ${name} is not supported`);
  }
  return valueError(nodeId, `${describe(value)} cannot be written as ${name}`);
}

/** The built-in type a simulator variable gets for a property without a `dataType` visitor key. */
export function defaultBuiltin(type: KubeType): number {
  switch (type) {
    case 'int': return BUILTIN.Int32;
    case 'float': case 'double': return BUILTIN.Double;
    case 'boolean': return BUILTIN.Boolean;
    case 'string': return BUILTIN.String;
    case 'bytes': return BUILTIN.ByteString;
  }
}
