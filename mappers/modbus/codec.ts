// Register words and bits ⇄ typed values. Pure: no sockets, no clocks; the simulator uses the same
// functions, so what the mapper reads is by construction what the simulator meant to hold.
//
// Decoding follows KubeEdge's Modbus mapper (kubeedge-notes §5.1): reverse the word order
// (`isRegisterSwap`), then swap the two bytes of each word (`isSwap`), read the bytes big-endian,
// then multiply by `scale`. Encoding is the exact inverse: divide by `scale`, round integers to
// the nearest, check the range, write big-endian, swap. The two swaps commute, so their order only
// matters for documentation.
//
// Deliberate differences from KubeEdge, each for a reason:
// - `int` is SIGNED two's complement (int16/int32/int64 for limit 1/2/4). KubeEdge reads it
//   unsigned, which turns -5 °C into 65531 °C; PLCs store signed values far more often. `uint`
//   gives KubeEdge's unsigned reading.
// - A float32 is reported as the shortest decimal that rounds back to the same float32 (21.3, not
//   21.299999237060547), and a scaled result is rounded to 15 significant digits (3 × 0.1 is
//   0.3, not 0.30000000000000004); value ÷ scale is rounded the same way before encoding, so any
//   value of up to 15 significant digits round-trips exactly. Beyond 15 digits, a scaled value
//   is approximate (a double cannot do better).
// - `boolean` in a register is "word ≠ 0" (KubeEdge tests the first byte for 1, which misreads
//   the register value 1 when isSwap is off).

import { Buffer } from 'node:buffer';
import { edgetwinError, type EdgetwinError } from '../../errors.js';
import { shortestFloat32 } from '../sdk/values.js';
import { isDecimalNumber, type KubeType, type PropertyValue } from '../../schemas/index.js';

export type RegisterTable = 'CoilRegister' | 'DiscreteInputRegister' | 'HoldingRegister' | 'InputRegister';

/**
 * How a value sits in its registers or bits. `bitfield` is an unsigned integer over `limit`
 * coils or discrete inputs, bit 0 at `offset` (the order of Modbus's own bit packing).
 */
export type ValueKind =
  | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'float32' | 'float64' | 'string' | 'bytes' | 'boolean' | 'bitfield';

/** The kinds that live in 16-bit register tables. */
export const WORD_KINDS: ReadonlySet<ValueKind> = new Set<ValueKind>([
  'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'string', 'bytes', 'boolean',
]);

/** One property's place in the device: a resolved visitor config. */
export interface ModbusPoint {
  readonly table: RegisterTable;
  /** Zero-based protocol address of the first register or bit. */
  readonly offset: number;
  /** Registers (word tables) or bits (coil and discrete-input tables). */
  readonly limit: number;
  readonly kind: ValueKind;
  readonly scale: number;
  /** Swap the two bytes of each register. */
  readonly isSwap: boolean;
  /** Reverse the order of the registers. */
  readonly isRegisterSwap: boolean;
}

export function isBitTable(table: RegisterTable): boolean {
  return table === 'CoilRegister' || table === 'DiscreteInputRegister';
}

const INT_RANGE: Readonly<Record<'int16' | 'uint16' | 'int32' | 'uint32', readonly [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};
const INT64_RANGE = { int64: [-(2n ** 63n), 2n ** 63n - 1n], uint64: [0n, 2n ** 64n - 1n] } as const;

function rangeError(point: ModbusPoint, message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_MODBUS_VALUE_RANGE', `${point.table} ${point.offset} (${point.kind}): ${message}`);
}

function typeError(point: ModbusPoint, value: PropertyValue): EdgetwinError {
  const shown = value instanceof Uint8Array ? `Uint8Array(${value.length})` : JSON.stringify(value);
  return edgetwinError('EDGETWIN_ERR_VALUE_TYPE', `${point.table} ${point.offset} (${point.kind}): cannot encode ${shown}`);
}

/** Registers → bytes in value order: word order reversed first, then bytes swapped. */
export function wordsToBytes(words: ArrayLike<number>, point: ModbusPoint): Buffer {
  const n = point.limit;
  const buf = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const word = words[point.isRegisterSwap ? n - 1 - i : i] ?? 0;
    const hi = (word >>> 8) & 0xff;
    const lo = word & 0xff;
    buf[2 * i] = point.isSwap ? lo : hi;
    buf[2 * i + 1] = point.isSwap ? hi : lo;
  }
  return buf;
}

/** The inverse of {@link wordsToBytes}. */
export function bytesToWords(bytes: Uint8Array, point: ModbusPoint): number[] {
  const n = point.limit;
  const words = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const a = bytes[2 * i] ?? 0;
    const b = bytes[2 * i + 1] ?? 0;
    words[point.isRegisterSwap ? n - 1 - i : i] = point.isSwap ? (b << 8) | a : (a << 8) | b;
  }
  return words;
}


/** 15 significant digits: what a double holds exactly in decimal, without the arithmetic's noise. */
function clean(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(15)) + 0 : x;
}

function applyScale(raw: number, scale: number): number {
  return scale === 1 ? raw : clean(raw * scale);
}

function decodeNumber(buf: Buffer, point: ModbusPoint): number {
  switch (point.kind) {
    case 'int16': return buf.readInt16BE(0);
    case 'uint16': return buf.readUInt16BE(0);
    case 'int32': return buf.readInt32BE(0);
    case 'uint32': return buf.readUInt32BE(0);
    case 'float32': return shortestFloat32(buf.readFloatBE(0));
    case 'float64': return buf.readDoubleBE(0);
    default: {
      const big = point.kind === 'int64' ? buf.readBigInt64BE(0) : buf.readBigUInt64BE(0);
      const n = Number(big);
      // Unscaled, the twin must carry the exact integer; scaled, the result is approximate anyway.
      if (point.scale === 1 && !Number.isSafeInteger(n)) {
        throw rangeError(point, `register value ${big} is beyond the safe integer range (±${Number.MAX_SAFE_INTEGER})`);
      }
      return n;
    }
  }
}

/** Decodes `point.limit` registers (FC3/FC4 data) into the point's value. */
export function decodeWords(point: ModbusPoint, words: ArrayLike<number>): PropertyValue {
  const buf = wordsToBytes(words, point);
  switch (point.kind) {
    case 'string': {
      let end = buf.length;
      while (end > 0 && buf[end - 1] === 0) end--;
      return buf.toString('utf8', 0, end);
    }
    case 'bytes':
      return new Uint8Array(buf);
    case 'boolean':
      return buf.some((b) => b !== 0);
    case 'bitfield':
      throw rangeError(point, 'a bit field lives in coils or discrete inputs, not registers');
    default: {
      const raw = decodeNumber(buf, point);
      if (!Number.isFinite(raw)) throw rangeError(point, `registers hold ${raw} (0x${buf.toString('hex')})`);
      const value = applyScale(raw, point.scale);
      if (!Number.isFinite(value)) throw rangeError(point, `${raw} × scale ${point.scale} overflows a double`);
      return value;
    }
  }
}

function asNumber(point: ModbusPoint, value: PropertyValue): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && isDecimalNumber(value)) return Number(value);
  throw typeError(point, value);
}

function asBoolean(point: ModbusPoint, value: PropertyValue): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
  }
  throw typeError(point, value);
}

/** value ÷ scale, rounded to an integer and range-checked for the integer kinds. */
function rawInteger(point: ModbusPoint, value: PropertyValue): number {
  const n = asNumber(point, value);
  if (!Number.isFinite(n)) throw rangeError(point, `${n} is not a finite number`);
  // `+ 0` so that a rounded -0.4 is written as 0, not as the sign bit of -0.
  return Math.round(n / point.scale) + 0;
}

function encodeNumber(point: ModbusPoint, value: PropertyValue): Buffer {
  switch (point.kind) {
    case 'float32':
    case 'float64': {
      // `+ 0`: -0 (0 ÷ a negative scale) is stored as 0; the twin cannot tell them apart anyway.
      const n = point.scale === 1 ? asNumber(point, value) + 0 : clean(asNumber(point, value) / point.scale);
      const stored = point.kind === 'float32' ? Math.fround(n) : n;
      if (!Number.isFinite(stored)) throw rangeError(point, `${asNumber(point, value)} ÷ ${point.scale} overflows a ${point.kind}`);
      const buf = Buffer.alloc(point.kind === 'float32' ? 4 : 8);
      if (point.kind === 'float32') buf.writeFloatBE(stored, 0);
      else buf.writeDoubleBE(stored, 0);
      return buf;
    }
    case 'int64':
    case 'uint64': {
      const raw = rawInteger(point, value);
      const big = BigInt(raw);
      const [min, max] = INT64_RANGE[point.kind];
      if (big < min || big > max) throw rangeError(point, `${raw} is outside ${min}..${max}`);
      const buf = Buffer.alloc(8);
      if (point.kind === 'int64') buf.writeBigInt64BE(big, 0);
      else buf.writeBigUInt64BE(big, 0);
      return buf;
    }
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32': {
      const raw = rawInteger(point, value);
      const [min, max] = INT_RANGE[point.kind];
      if (raw < min || raw > max) {
        const scaled = point.scale === 1 ? '' : ` (${asNumber(point, value)} ÷ scale ${point.scale})`;
        throw rangeError(point, `${raw}${scaled} is outside ${min}..${max}`);
      }
      const size = point.kind === 'int16' || point.kind === 'uint16' ? 2 : 4;
      const buf = Buffer.alloc(size);
      if (point.kind.startsWith('u')) buf.writeUIntBE(raw, 0, size);
      else buf.writeIntBE(raw, 0, size);
      return buf;
    }
    default:
      throw rangeError(point, `${point.kind} is not a numeric kind`);
  }
}

/** Encodes a value into `point.limit` registers (FC6/FC16 data). */
export function encodeWords(point: ModbusPoint, value: PropertyValue): number[] {
  const size = point.limit * 2;
  let bytes: Uint8Array;
  switch (point.kind) {
    case 'string': {
      if (value instanceof Uint8Array) throw typeError(point, value);
      const text = Buffer.from(String(value), 'utf8');
      if (text.length > size) throw rangeError(point, `"${String(value)}" is ${text.length} bytes; ${point.limit} registers hold ${size}`);
      // NUL-padded: the decoder trims trailing NULs, so the round trip is exact.
      bytes = Buffer.concat([text, Buffer.alloc(size - text.length)]);
      break;
    }
    case 'bytes':
      if (!(value instanceof Uint8Array)) throw typeError(point, value);
      if (value.length !== size) throw rangeError(point, `${value.length} bytes given; ${point.limit} registers hold exactly ${size}`);
      bytes = value;
      break;
    case 'boolean':
      bytes = Buffer.from([0, asBoolean(point, value) ? 1 : 0]);
      break;
    case 'bitfield':
      throw rangeError(point, 'a bit field lives in coils or discrete inputs, not registers');
    default:
      bytes = encodeNumber(point, value);
  }
  return bytesToWords(bytes, point);
}

/** Decodes `point.limit` bits (FC1/FC2 data, bit 0 first) into the point's value. */
export function decodeBits(point: ModbusPoint, bits: ArrayLike<boolean>): PropertyValue {
  switch (point.kind) {
    case 'boolean':
      return bits[0] === true;
    case 'bytes': {
      const out = new Uint8Array(Math.ceil(point.limit / 8));
      for (let i = 0; i < point.limit; i++) if (bits[i] === true) out[i >> 3] = (out[i >> 3] ?? 0) | (1 << (i & 7));
      return out;
    }
    case 'bitfield': {
      let n = 0;
      // Multiplication, not <<: a field may be up to 53 bits wide and JS shifts are 32-bit.
      for (let i = point.limit - 1; i >= 0; i--) n = n * 2 + (bits[i] === true ? 1 : 0);
      return applyScale(n, point.scale);
    }
    default:
      throw rangeError(point, `${point.kind} lives in registers, not in coils or discrete inputs`);
  }
}

/** Encodes a value into `point.limit` bits (FC5/FC15 data). */
export function encodeBits(point: ModbusPoint, value: PropertyValue): boolean[] {
  const bits = new Array<boolean>(point.limit).fill(false);
  switch (point.kind) {
    case 'boolean':
      bits[0] = asBoolean(point, value);
      return bits;
    case 'bytes': {
      if (!(value instanceof Uint8Array)) throw typeError(point, value);
      const size = Math.ceil(point.limit / 8);
      if (value.length !== size) throw rangeError(point, `${value.length} bytes given; ${point.limit} bits hold exactly ${size}`);
      for (let i = 0; i < point.limit; i++) bits[i] = (((value[i >> 3] ?? 0) >> (i & 7)) & 1) === 1;
      return bits;
    }
    case 'bitfield': {
      let raw = rawInteger(point, value);
      const max = 2 ** point.limit - 1;
      if (raw < 0 || raw > max) throw rangeError(point, `${raw} is outside 0..${max}`);
      for (let i = 0; i < point.limit; i++) {
        bits[i] = raw % 2 === 1;
        raw = Math.floor(raw / 2);
      }
      return bits;
    }
    default:
      throw rangeError(point, `${point.kind} lives in registers, not in coils or discrete inputs`);
  }
}

/**
 * A decoded value in the model's type. An `int` property fed from a scaled or float register is
 * truncated toward zero, as KubeEdge's mapper does; numbers and booleans convert both ways.
 */
export function toModelValue(value: PropertyValue, type: KubeType): PropertyValue | undefined {
  switch (type) {
    case 'int':
      if (typeof value === 'boolean') return value ? 1 : 0;
      return typeof value === 'number' ? Math.trunc(value) + 0 : undefined;
    case 'float':
    case 'double':
      if (typeof value === 'boolean') return value ? 1 : 0;
      return typeof value === 'number' ? value : undefined;
    case 'boolean':
      if (typeof value === 'number') return value !== 0;
      return typeof value === 'boolean' ? value : undefined;
    case 'string':
      return value instanceof Uint8Array ? undefined : String(value);
    case 'bytes':
      return value instanceof Uint8Array ? value : undefined;
  }
}
