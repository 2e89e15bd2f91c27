// Characteristic bytes ↔ property values. Pure: no noble, no I/O; the driver and the simulator
// both use it, so what the simulator encodes is exactly what the mapper decodes.
//
// Two decoders:
// - edgetwin's (default): the startIndex..endIndex selection read as bytes (big-endian in
//   selection order, so start > end reads little-endian), or a typed field (`dataType` at
//   `offset`), then the shifts, `scale`, and orderOfOperations.
// - KubeEdge's (`kubeedgeCompat: true`): mappers-go `ConvertReadData` as written — the selected
//   bytes' *decimal strings* are concatenated and parsed as a uint64, so [0x01, 0x02] reads 12,
//   not 258; then one shift (shiftLeft wins), the operations, and `%f` (six decimals).
// docs/bluetooth.md explains the differences and why.

import { edgetwinError, type EdgetwinError } from '../../errors.js';
import { shortestFloat32 } from '../sdk/values.js';
import type { KubeType, PropertyValue } from '../../schemas/index.js';
import type { BleDataType, BleVisitorConfig, DataConverter } from './config.js';

type Operation = NonNullable<DataConverter['orderOfOperations']>[number];
type NumericType = Exclude<BleDataType, 'utf8' | 'bool' | 'bytes'>;

interface NumericSpec {
  readonly width: number;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  read(buf: Buffer, at: number): number;
  write(buf: Buffer, value: number): void;
}

const int = (width: number, signed: boolean, read: NumericSpec['read'], write: NumericSpec['write']): NumericSpec => {
  const bits = 8 * width;
  return { width, integer: true, min: signed ? -(2 ** (bits - 1)) : 0, max: signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1, read, write };
};
const float = (width: number, read: NumericSpec['read'], write: NumericSpec['write']): NumericSpec => {
  const max = width === 4 ? 3.4028234663852886e38 : Number.MAX_VALUE;
  return { width, integer: false, min: -max, max, read, write };
};

const NUMERIC: Readonly<Record<NumericType, NumericSpec>> = {
  uint8: int(1, false, (b, at) => b.readUInt8(at), (b, v) => b.writeUInt8(v)),
  int8: int(1, true, (b, at) => b.readInt8(at), (b, v) => b.writeInt8(v)),
  uint16le: int(2, false, (b, at) => b.readUInt16LE(at), (b, v) => b.writeUInt16LE(v)),
  uint16be: int(2, false, (b, at) => b.readUInt16BE(at), (b, v) => b.writeUInt16BE(v)),
  int16le: int(2, true, (b, at) => b.readInt16LE(at), (b, v) => b.writeInt16LE(v)),
  int16be: int(2, true, (b, at) => b.readInt16BE(at), (b, v) => b.writeInt16BE(v)),
  uint32le: int(4, false, (b, at) => b.readUInt32LE(at), (b, v) => b.writeUInt32LE(v)),
  uint32be: int(4, false, (b, at) => b.readUInt32BE(at), (b, v) => b.writeUInt32BE(v)),
  int32le: int(4, true, (b, at) => b.readInt32LE(at), (b, v) => b.writeInt32LE(v)),
  int32be: int(4, true, (b, at) => b.readInt32BE(at), (b, v) => b.writeInt32BE(v)),
  float32le: float(4, (b, at) => shortestFloat32(b.readFloatLE(at)), (b, v) => b.writeFloatLE(v)),
  float32be: float(4, (b, at) => shortestFloat32(b.readFloatBE(at)), (b, v) => b.writeFloatBE(v)),
  float64le: float(8, (b, at) => b.readDoubleLE(at), (b, v) => b.writeDoubleLE(v)),
  float64be: float(8, (b, at) => b.readDoubleBE(at), (b, v) => b.writeDoubleBE(v)),
};

const isNumeric = (t: BleDataType): t is NumericType => t in NUMERIC;
const SHIFTABLE: ReadonlySet<BleDataType> = new Set(['uint8', 'uint16le', 'uint16be', 'uint32le', 'uint32be']);
const U64 = (1n << 64n) - 1n;

function valueError(message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_BLE_VALUE', message);
}

function buf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}


/** 15 significant digits: what a double holds in decimal, without the arithmetic's noise (0.1 × 3). */
function clean(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(15)) + 0 : x;
}

/**
 * The bytes startIndex..endIndex inclusive, in reverse order when start > end (KubeEdge's
 * selection, which both decoders share). Throws EDGETWIN_ERR_BLE_VALUE past the end of the value.
 */
export function selectBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  if (Math.max(start, end) >= bytes.length) {
    throw valueError(`the value is ${bytes.length} byte(s); startIndex..endIndex ${start}..${end} runs past its end`);
  }
  const out = bytes.slice(Math.min(start, end), Math.max(start, end) + 1);
  return start > end ? out.reverse() : out;
}

function operate(x: number, op: Operation): number {
  switch (op.operationType.toLowerCase()) {
    case 'add': return x + op.operationValue;
    case 'subtract': return x - op.operationValue;
    case 'multiply': return x * op.operationValue;
    default: return x / op.operationValue;
  }
}

export function applyOperations(x: number, ops: readonly Operation[] = []): number {
  return ops.reduce(operate, x);
}

/** The inverse of {@link applyOperations}: for writes. */
export function invertOperations(x: number, ops: readonly Operation[] = []): number {
  const inverse: Readonly<Record<string, string>> = { add: 'Subtract', subtract: 'Add', multiply: 'Divide', divide: 'Multiply' };
  return [...ops].reverse().reduce((acc, op) => operate(acc, { operationType: inverse[op.operationType.toLowerCase()] ?? 'Add', operationValue: op.operationValue }), x);
}

/**
 * KubeEdge's converter, bug for bug (mappers-go `mappers/ble/device/twindata.go` ConvertReadData):
 * missing indices are 0; the selected bytes' decimal strings are concatenated and parsed as a
 * uint64 (a parse failure, i.e. more than 2^64 - 1, gives 0, as Go ignores the error); only one
 * shift applies (shiftLeft if non-zero, wrapping at 64 bits); the operations run in order; the
 * result is published with `%f`, so six decimals survive.
 */
export function kubeedgeConvert(bytes: Uint8Array, converter: DataConverter = {}): number {
  const selected = selectBytes(bytes, converter.startIndex ?? 0, converter.endIndex ?? 0);
  const digits = [...selected].map(String).join('');
  let n = BigInt(digits);
  if (n > U64) n = 0n;
  const left = converter.shiftLeft ?? 0;
  const right = converter.shiftRight ?? 0;
  // Go: a shift count ≥ 64 on a uint64 gives 0.
  if (left !== 0) n = left >= 64 ? 0n : (n << BigInt(left)) & U64;
  else if (right !== 0) n = right >= 64 ? 0n : n >> BigInt(right);
  const result = applyOperations(Number(n), converter.orderOfOperations);
  if (!Number.isFinite(result)) throw valueError(`KubeEdge's converter gave ${result}`);
  return Number(result.toFixed(6));
}

/** Decodes one typed field at `offset`. Throws EDGETWIN_ERR_BLE_VALUE when the value is too short. */
export function decodeDataType(bytes: Uint8Array, dataType: BleDataType, offset = 0): number | boolean | string | Uint8Array {
  const need = isNumeric(dataType) ? NUMERIC[dataType].width : dataType === 'bool' ? 1 : 0;
  if (bytes.length < offset + need) {
    throw valueError(`the value is ${bytes.length} byte(s); ${dataType} at offset ${offset} needs ${offset + need}`);
  }
  if (isNumeric(dataType)) return NUMERIC[dataType].read(buf(bytes), offset);
  if (dataType === 'bool') return bytes[offset] !== 0;
  if (dataType === 'bytes') return bytes.slice(offset);
  try {
    // Fixed-size string characteristics are commonly NUL-padded; the padding is not text.
    return withoutTrailingNuls(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(offset)));
  } catch {
    throw valueError('the value is not valid UTF-8');
  }
}

/** Encodes one typed field. Throws EDGETWIN_ERR_BLE_VALUE when it does not fit `dataType`. */
export function encodeDataType(value: PropertyValue, dataType: BleDataType): Uint8Array {
  if (dataType === 'bytes') {
    if (value instanceof Uint8Array) return value.slice();
    throw valueError(`dataType bytes needs a bytes value, not ${typeof value}`);
  }
  if (dataType === 'utf8') {
    if (value instanceof Uint8Array) throw valueError('dataType utf8 needs a string value, not bytes');
    return new TextEncoder().encode(String(value));
  }
  if (dataType === 'bool') return Uint8Array.of(toNumber(value) !== 0 ? 1 : 0);
  const spec = NUMERIC[dataType];
  let n = toNumber(value);
  if (spec.integer) n = Math.round(n);
  if (!(n >= spec.min && n <= spec.max)) throw valueError(`${n} is outside ${dataType}'s range ${spec.min}..${spec.max}`);
  const out = Buffer.alloc(spec.width);
  spec.write(out, n);
  return new Uint8Array(out);
}

function toNumber(value: PropertyValue): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) throw valueError(`${typeof value === 'string' ? JSON.stringify(value) : 'bytes'} is not a number`);
  return n;
}

/** Gives a decoded value the model's type. int is truncated towards zero, as Modbus and KubeEdge do. */
export function toModelValue(value: number | boolean | string | Uint8Array, type: KubeType): PropertyValue {
  const fail = (): never => {
    throw valueError(`a ${value instanceof Uint8Array ? 'bytes' : typeof value} value cannot be reported as ${type}`);
  };
  switch (type) {
    case 'int':
      return value instanceof Uint8Array ? fail() : Math.trunc(clean(toNumber(value))) + 0;
    case 'float':
    case 'double':
      return value instanceof Uint8Array ? fail() : toNumber(value);
    case 'boolean':
      if (typeof value === 'string') return /^(?:true|1|on)$/i.test(value) ? true : /^(?:false|0|off)$/i.test(value) ? false : fail();
      return value instanceof Uint8Array ? fail() : toNumber(value) !== 0;
    case 'string':
      return value instanceof Uint8Array ? fail() : String(value);
    case 'bytes':
      return value instanceof Uint8Array ? value : fail();
  }
}

/** One property's codec, compiled once from its visitor config. */
export interface BleCodec {
  /** Characteristic value → model value. Throws EDGETWIN_ERR_BLE_VALUE. */
  decode(bytes: Uint8Array): PropertyValue;
  /** Model value → where its bytes go in the characteristic value (simulators compose these). */
  encodeField(value: PropertyValue): { readonly at: number; readonly bytes: Uint8Array };
  /** Model value → the whole characteristic value to write. */
  encode(value: PropertyValue): Uint8Array;
}

function configError(property: string, message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `Bluetooth property "${property}": ${message}`, [{ path: property, message }]);
}

/** A dataWrite key matches the value's wire string exactly, case-insensitively, or as an equal number. */
function findDataWrite(dataWrite: Readonly<Record<string, readonly number[]>>, value: PropertyValue): readonly number[] | undefined {
  if (value instanceof Uint8Array) return undefined;
  const wire = String(value);
  const keys = Object.keys(dataWrite);
  const key =
    keys.find((k) => k === wire) ??
    keys.find((k) => k.toLowerCase() === wire.toLowerCase()) ??
    (typeof value === 'number' ? keys.find((k) => k.trim() !== '' && Number(k) === value) : undefined);
  return key === undefined ? undefined : dataWrite[key];
}

/**
 * Compiles a (schema-valid) visitor config for a property of the model's `type`. Throws
 * EDGETWIN_ERR_MAPPER_CONFIG for combinations that cannot mean anything (shifts on a float,
 * kubeedgeCompat with a dataType, a string model with arithmetic, a division by zero).
 */
export function compileCodec(visitor: BleVisitorConfig, type: KubeType, property = 'visitor'): BleCodec {
  const conv = visitor.dataConverter;
  const ops = conv?.orderOfOperations ?? [];
  const scale = visitor.scale ?? 1;
  const shiftLeft = conv?.shiftLeft ?? 0;
  const shiftRight = conv?.shiftRight ?? 0;
  const shifts = shiftLeft !== 0 || shiftRight !== 0;
  const dataType = visitor.dataType;
  const offset = visitor.offset ?? 0;
  const dataWrite = visitor.dataWrite;
  const textual = type === 'string' || type === 'bytes';
  const arithmetic = ops.length > 0 || scale !== 1 || shifts;

  if (ops.some((op) => /^divide$/i.test(op.operationType) && op.operationValue === 0)) throw configError(property, 'orderOfOperations divides by 0');
  if (visitor.kubeedgeCompat === true) {
    if (dataType !== undefined || visitor.offset !== undefined || visitor.scale !== undefined) {
      throw configError(property, "kubeedgeCompat reproduces KubeEdge's converter, which has no dataType, offset or scale");
    }
  } else if (dataType !== undefined) {
    if (shifts && !SHIFTABLE.has(dataType)) throw configError(property, `shiftLeft/shiftRight apply to unsigned integers, not ${dataType}`);
    if (arithmetic && !isNumeric(dataType)) throw configError(property, `scale and orderOfOperations apply to numbers, not ${dataType}`);
  } else if (textual && arithmetic) {
    throw configError(property, `a ${type} property without a numeric dataType cannot have scale, shifts or orderOfOperations`);
  }

  // Absent indices are 0, as Go's zero values — except that a typed field, or a string or bytes
  // property, with no indices at all sees the whole value.
  const explicit = conv?.startIndex !== undefined || conv?.endIndex !== undefined;
  const wholeValue = !explicit && (dataType !== undefined || textual) && visitor.kubeedgeCompat !== true;
  const start = conv?.startIndex ?? 0;
  const end = conv?.endIndex ?? 0;
  const width = Math.abs(start - end) + 1;
  if (dataType === undefined && !textual && !wholeValue && width > 8 && visitor.kubeedgeCompat !== true) {
    throw configError(property, `startIndex..endIndex selects ${width} bytes; without a dataType at most 8 make one integer`);
  }
  const select = (bytes: Uint8Array): Uint8Array => (wholeValue ? bytes : selectBytes(bytes, start, end));
  // Only without dataType and dataConverter: then the dataWrite table is the whole vocabulary, and
  // reading it backwards lets a write be read back ("ON" → [1] → "ON").
  const reverseDataWrite = dataWrite !== undefined && dataType === undefined && conv === undefined && visitor.kubeedgeCompat !== true;

  const shift = (raw: bigint, bits: number): bigint => {
    const mask = (1n << BigInt(bits)) - 1n;
    let v = raw;
    // Both shifts apply (left first, masked to the field's width), so a bit field can be cut out.
    if (shiftLeft !== 0) v = (v << BigInt(shiftLeft)) & mask;
    if (shiftRight !== 0) v >>= BigInt(shiftRight);
    return v;
  };
  const arith = (n: number): number => (scale === 1 && ops.length === 0 ? n : clean(applyOperations(n * scale, ops)));

  const decodeRaw = (bytes: Uint8Array): number | boolean | string | Uint8Array => {
    if (visitor.kubeedgeCompat === true) return kubeedgeConvert(bytes, conv);
    if (reverseDataWrite) {
      const hit = Object.entries(dataWrite).find(([, b]) => b.length === bytes.length && b.every((x, i) => x === bytes[i]));
      if (hit) return hit[0];
    }
    const selected = select(bytes);
    if (dataType === undefined) {
      if (type === 'string') return decodeDataType(selected, 'utf8');
      if (type === 'bytes') return selected;
      let v = 0n;
      for (const b of selected) v = (v << 8n) | BigInt(b);
      v = shift(v, 8 * selected.length);
      const n = Number(v);
      if (!Number.isSafeInteger(n) && !arithmetic) throw valueError(`${v} is beyond the safe integer range`);
      return arith(n);
    }
    const raw = decodeDataType(selected, dataType, offset);
    if (typeof raw !== 'number') return raw;
    return arith(shifts ? Number(shift(BigInt(raw), 8 * NUMERIC[dataType as NumericType].width)) : raw);
  };

  const encodeField = (value: PropertyValue): { at: number; bytes: Uint8Array } => {
    const hit = dataWrite === undefined ? undefined : findDataWrite(dataWrite, value);
    if (hit) return { at: 0, bytes: Uint8Array.from(hit) };
    if (visitor.kubeedgeCompat === true) {
      throw valueError(`no dataWrite entry for ${JSON.stringify(String(value))}; kubeedgeCompat writes only through dataWrite, as KubeEdge does`);
    }
    if (dataWrite !== undefined && dataType === undefined) {
      throw valueError(`no dataWrite entry for ${JSON.stringify(String(value))} (known: ${Object.keys(dataWrite).join(', ')})`);
    }
    if (shifts) throw configError(property, 'shiftLeft/shiftRight cannot be inverted for a write; use dataWrite');
    const unscale = (v: PropertyValue): number => invertOperations(toNumber(v), ops) / scale;
    let bytes: Uint8Array;
    let fieldAt = 0;
    if (dataType === undefined) {
      if (type === 'string' || type === 'bytes') bytes = encodeDataType(value, type === 'string' ? 'utf8' : 'bytes');
      else {
        const n = Math.round(unscale(value));
        const limit = 2 ** (8 * width);
        if (!(n >= 0 && n < limit)) throw valueError(`${String(value)} does not fit ${width} unsigned byte(s)`);
        bytes = new Uint8Array(width);
        for (let i = width - 1, v = n; i >= 0; i--, v = Math.floor(v / 256)) bytes[i] = v % 256;
      }
    } else {
      bytes = encodeDataType(isNumeric(dataType) && arithmetic ? unscale(value) : value, dataType);
      fieldAt = offset;
    }
    if (wholeValue) return { at: fieldAt, bytes };
    // Map the field's place in the selection back to the characteristic value.
    if (start > end) return { at: start - fieldAt - bytes.length + 1, bytes: bytes.slice().reverse() };
    return { at: start + fieldAt, bytes };
  };

  return {
    decode: (bytes) => toModelValue(decodeRaw(bytes), type),
    encodeField,
    encode: (value) => {
      const field = encodeField(value);
      if (field.at !== 0) {
        throw configError(property, `a write replaces the whole characteristic value, but this property's bytes start at ${field.at}`);
      }
      return field.bytes;
    },
  };
}

/** The text without its trailing NULs (a scan from the end: `/\0+$/` would retry at every NUL). */
function withoutTrailingNuls(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0) end--;
  return text.slice(0, end);
}
