import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../../errors.js';
import type { PropertyValue } from '../../schemas/index.js';
import { decodeBits, decodeWords, encodeBits, encodeWords, type ModbusPoint, type ValueKind } from './codec.js';

const WIDTH: Record<string, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, int64: 4, uint64: 4, float32: 2, float64: 4, boolean: 1 };

function point(kind: ValueKind, opts: Partial<ModbusPoint> = {}): ModbusPoint {
  return { table: 'HoldingRegister', offset: 0, limit: WIDTH[kind] ?? 2, kind, scale: 1, isSwap: false, isRegisterSwap: false, ...opts };
}

/** Registers as they travel on the wire (big-endian words, in address order) → hex. */
function hex(words: readonly number[]): string {
  return words.map((w) => w.toString(16).padStart(4, '0')).join('');
}
function words(h: string): number[] {
  return h.match(/.{4}/g)!.map((w) => parseInt(w, 16));
}

// ABCD / BADC (isSwap) / CDAB (isRegisterSwap) / DCBA (both): the four byte orders found in the field.
const SWAPS = [
  { name: 'ABCD', isSwap: false, isRegisterSwap: false },
  { name: 'BADC', isSwap: true, isRegisterSwap: false },
  { name: 'CDAB', isSwap: false, isRegisterSwap: true },
  { name: 'DCBA', isSwap: true, isRegisterSwap: true },
] as const;

// kind, value, limit, wire hex for ABCD, BADC, CDAB, DCBA
const VECTORS: [ValueKind, PropertyValue, number, [string, string, string, string]][] = [
  ['int16', -2, 1, ['fffe', 'feff', 'fffe', 'feff']],
  ['int16', 4660, 1, ['1234', '3412', '1234', '3412']],
  ['uint16', 65535, 1, ['ffff', 'ffff', 'ffff', 'ffff']],
  ['uint16', 4660, 1, ['1234', '3412', '1234', '3412']],
  ['int32', 305419896, 2, ['12345678', '34127856', '56781234', '78563412']],
  ['int32', -2, 2, ['fffffffe', 'fffffeff', 'fffeffff', 'feffffff']],
  ['uint32', 3735928559, 2, ['deadbeef', 'addeefbe', 'beefdead', 'efbeadde']],
  ['int64', 283686952306183, 4, ['0001020304050607', '0100030205040706', '0607040502030001', '0706050403020100']],
  ['int64', -1, 4, ['ffffffffffffffff', 'ffffffffffffffff', 'ffffffffffffffff', 'ffffffffffffffff']],
  ['uint64', 4822678189205111, 4, ['0011223344556677', '1100332255447766', '6677445522330011', '7766554433221100']],
  ['float32', 21.5, 2, ['41ac0000', 'ac410000', '000041ac', '0000ac41']],
  ['float32', 21.3, 2, ['41aa6666', 'aa416666', '666641aa', '6666aa41']],
  ['float32', -0.1, 2, ['bdcccccd', 'ccbdcdcc', 'cccdbdcc', 'cdccccbd']],
  ['float64', 21.5, 4, ['4035800000000000', '3540008000000000', '0000000080004035', '0000000000803540']],
  ['float64', -0.1, 4, ['bfb999999999999a', 'b9bf999999999a99', '999a99999999bfb9', '9a9999999999b9bf']],
  ['string', 'heat', 2, ['68656174', '65687461', '61746865', '74616568']],
  ['string', 'off', 2, ['6f666600', '666f0066', '66006f66', '0066666f']],
  ['string', 'Ω', 2, ['cea90000', 'a9ce0000', '0000cea9', '0000a9ce']],
  ['bytes', new Uint8Array([1, 2, 3, 4]), 2, ['01020304', '02010403', '03040102', '04030201']],
  ['boolean', true, 1, ['0001', '0100', '0001', '0100']],
  ['boolean', false, 1, ['0000', '0000', '0000', '0000']],
];

describe('codec: known byte vectors (every kind × every byte order)', () => {
  for (const [kind, value, limit, hexes] of VECTORS) {
    SWAPS.forEach((swap, i) => {
      const p = point(kind, { limit, isSwap: swap.isSwap, isRegisterSwap: swap.isRegisterSwap });
      const wire = hexes[i]!;
      it(`${kind} ${value instanceof Uint8Array ? 'bytes' : JSON.stringify(value)} ${swap.name} ⇄ ${wire}`, () => {
        expect(hex(encodeWords(p, value))).toBe(wire);
        expect(decodeWords(p, words(wire))).toEqual(value);
      });
    });
  }

  it('boolean is "register ≠ 0", whatever the byte order', () => {
    expect(decodeWords(point('boolean'), [0x0100])).toBe(true);
    expect(decodeWords(point('boolean'), [0xff00])).toBe(true);
  });

  it('string trims trailing NULs only', () => {
    expect(decodeWords(point('string', { limit: 3 }), words('610062000000'))).toBe('a\u0000b');
  });
});

// Raw register values per kind: the scaled value is raw × scale, and encoding it must give the
// very same registers back. Values of more than 15 significant digits are exact only unscaled.
const RAWS: Partial<Record<ValueKind, number[]>> = {
  int16: [-32768, -1, 0, 1, 215, 32767],
  uint16: [0, 1, 215, 65535],
  int32: [-2147483648, -123456, 0, 7, 2147483647],
  uint32: [0, 1, 4294967295],
  int64: [-9007199254740991, -999999999999999, -5, 0, 999999999999999, 9007199254740991],
  uint64: [0, 1, 999999999999999, 9007199254740991],
  float32: [0, 21.5, -1.25, 3.4e38, 1e-7, 21.3, -273.15],
  float64: [0, 21.5, -1.25, 1.7e300, 1e-300, 0.1, 123456.789, 1.7976931348623157e308],
};
const SCALES = [1, 0.1, 10, 0.5, -2];
const digits = (x: number): number => x.toExponential().split('e')[0]!.replace(/[-.]/g, '').length;

describe('codec: round trips (every numeric kind × scale × byte order)', () => {
  for (const [kind, raws] of Object.entries(RAWS) as [ValueKind, number[]][]) {
    for (const scale of SCALES) {
      for (const swap of SWAPS) {
        it(`${kind} × ${scale} ${swap.name}`, () => {
          const unscaled = point(kind, { isSwap: swap.isSwap, isRegisterSwap: swap.isRegisterSwap });
          const scaled = { ...unscaled, scale };
          for (const raw of raws) {
            const stored = encodeWords(unscaled, raw);
            const rawBack = decodeWords(unscaled, stored) as number;
            expect(kind === 'float32' ? Math.fround(rawBack) : rawBack).toBe(kind === 'float32' ? Math.fround(raw) : raw);
            if (scale !== 1 && (digits(rawBack) > 15 || digits(rawBack * scale) > 15 || Math.abs(rawBack * scale) > Number.MAX_VALUE)) continue;
            const value = decodeWords(scaled, stored) as number;
            const back = encodeWords(scaled, value);
            expect(hex(back), `${raw} × ${scale} = ${value}`).toBe(hex(stored));
            expect(decodeWords(scaled, back)).toBe(value);
          }
        });
      }
    }
  }

  it('beyond 15 significant digits, a scaled value is approximate', () => {
    const p = point('int64', { scale: 0.1 });
    expect(decodeWords(p, encodeWords(point('int64'), 9007199254740991))).toBe(900719925474099);
  });

  it('a scaled value that overflows a double is a range error', () => {
    expect(code(() => decodeWords(point('float64', { scale: 10 }), encodeWords(point('float64'), 1.7e308)))).toBe('EDGETWIN_ERR_MODBUS_VALUE_RANGE');
  });

  it('scaled integers read as clean decimals and encode by rounding', () => {
    const p = point('int16', { scale: 0.1 });
    expect(decodeWords(p, [215])).toBe(21.5);
    expect(decodeWords(p, [3])).toBe(0.3);
    expect(encodeWords(p, 21.5)).toEqual([215]);
    expect(encodeWords(p, 21.54)).toEqual([215]);
    expect(encodeWords(p, 21.56)).toEqual([216]);
    expect(encodeWords(point('int32', { scale: 0.001 }), -12.345)).toEqual([0xffff, 0xcfc7]);
    expect(encodeWords(point('int16'), -0.4)).toEqual([0]);
  });

  it('float32 reads as the shortest decimal of the stored float', () => {
    expect(decodeWords(point('float32'), words('41aa6666'))).toBe(21.3);
    expect(decodeWords(point('float32', { scale: 10 }), words('41aa6666'))).toBe(213);
  });
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isEdgetwinError(err) ? err.code : 'not coded';
  }
  return undefined;
}

describe('codec: range and type errors are coded', () => {
  it.each([
    ['int16 40000', () => encodeWords(point('int16'), 40000)],
    ['uint16 -1', () => encodeWords(point('uint16'), -1)],
    ['int16 3276.8 at scale 0.1', () => encodeWords(point('int16', { scale: 0.1 }), 3276.8)],
    ['uint32 2^32', () => encodeWords(point('uint32'), 2 ** 32)],
    ['uint64 -1', () => encodeWords(point('uint64'), -1)],
    ['float32 1e39', () => encodeWords(point('float32'), 1e39)],
    ['string too long', () => encodeWords(point('string', { limit: 1 }), 'heat')],
    ['bytes of the wrong length', () => encodeWords(point('bytes', { limit: 2 }), new Uint8Array(3))],
    ['int64 beyond 2^53 unscaled', () => decodeWords(point('int64'), words('0020000000000001'))],
    ['float32 NaN in the registers', () => decodeWords(point('float32'), words('7fc00000'))],
    ['bitfield over 2^limit', () => encodeBits(point('bitfield', { table: 'CoilRegister', limit: 4 }), 16)],
  ])('%s → EDGETWIN_ERR_MODBUS_VALUE_RANGE', (_name, fn) => {
    expect(code(fn)).toBe('EDGETWIN_ERR_MODBUS_VALUE_RANGE');
  });

  it.each([
    ['a word into int16', () => encodeWords(point('int16'), 'warm')],
    ['a number into bytes', () => encodeWords(point('bytes', { limit: 1 }), 5)],
    ['bytes into a string', () => encodeWords(point('string', { limit: 1 }), new Uint8Array(2))],
    ['"maybe" into a coil', () => encodeBits(point('boolean', { table: 'CoilRegister', limit: 1 }), 'maybe')],
  ])('%s → EDGETWIN_ERR_VALUE_TYPE', (_name, fn) => {
    expect(code(fn)).toBe('EDGETWIN_ERR_VALUE_TYPE');
  });

  it('int64 beyond 2^53 decodes when scaled (the result is approximate anyway)', () => {
    expect(decodeWords(point('uint64', { scale: 0.001 }), words('0020000000000000'))).toBe(9007199254740.99);
  });

  it('coerces booleans and numeric strings into numbers, numbers into booleans and strings', () => {
    expect(encodeWords(point('uint16'), true)).toEqual([1]);
    expect(encodeWords(point('int16'), ' 12 ')).toEqual([12]);
    expect(encodeWords(point('boolean'), 7)).toEqual([1]);
    expect(decodeWords(point('string', { limit: 1 }), encodeWords(point('string', { limit: 1 }), 42))).toBe('42');
  });
});

describe('codec: coils and discrete inputs', () => {
  const coil = (kind: ValueKind, limit: number, scale = 1): ModbusPoint => point(kind, { table: 'CoilRegister', limit, scale });

  it('boolean is one bit', () => {
    expect(encodeBits(coil('boolean', 1), true)).toEqual([true]);
    expect(decodeBits(coil('boolean', 1), [false])).toBe(false);
  });

  it('a bit field puts bit 0 at the offset, up to 53 bits', () => {
    const bits = encodeBits(coil('bitfield', 10), 0b1010100101);
    expect(bits).toEqual([true, false, true, false, false, true, false, true, false, true]);
    expect(decodeBits(coil('bitfield', 10), bits)).toBe(0b1010100101);
    const wide = coil('bitfield', 53);
    expect(decodeBits(wide, encodeBits(wide, 2 ** 53 - 1))).toBe(2 ** 53 - 1);
    expect(decodeBits(coil('bitfield', 4, 0.5), [true, true, false, false])).toBe(1.5);
    expect(encodeBits(coil('bitfield', 4, 0.5), 1.5)).toEqual([true, true, false, false]);
  });

  it('bytes pack bits LSB first, as Modbus does on the wire', () => {
    const p = coil('bytes', 12);
    const bits = encodeBits(p, new Uint8Array([0x81, 0x0a]));
    expect(bits.map((b) => (b ? 1 : 0)).join('')).toBe('100000010101');
    expect(decodeBits(p, bits)).toEqual(new Uint8Array([0x81, 0x0a]));
  });
});
