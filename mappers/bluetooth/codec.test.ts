import { describe, expect, it } from 'vitest';
import type { KubeType, PropertyValue } from '../../schemas/index.js';
import { compileCodec, decodeDataType, encodeDataType, invertOperations, kubeedgeConvert, selectBytes } from './codec.js';
import { shortestFloat32 } from '../sdk/values.js';
import { parseVisitorConfig, type BleDataType, type DataConverter } from './config.js';

const CHAR = '2a6e';
const codec = (config: Record<string, unknown>, type: KubeType) => compileCodec(parseVisitorConfig({ characteristicUUID: CHAR, ...config }, 'p'), type, 'p');
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe("KubeEdge's converter (kubeedgeCompat), bug for bug", () => {
  // Worked examples from mappers-go twindata.go ConvertReadData (kubeedge-notes §5.2).
  const cases: [string, number[], DataConverter, number][] = [
    ['[0x01,0x02] concatenates decimal strings: "1"+"2" = 12, not 258', [0x01, 0x02], { startIndex: 0, endIndex: 1 }, 12],
    ['reversed selection: "2"+"1" = 21', [0x01, 0x02], { startIndex: 1, endIndex: 0 }, 21],
    ['[0xff,0x0a] → "255"+"10" = 25510', [0xff, 0x0a], { startIndex: 0, endIndex: 1 }, 25510],
    ['no dataConverter: indices default to 0 (byte 0 only)', [0x2a, 0x01], {}, 42],
    ['shiftLeft wins over shiftRight', [0x03], { shiftLeft: 2, shiftRight: 1 }, 12],
    ['shiftRight alone', [0x0c], { shiftRight: 2 }, 3],
    ['SensorTag temperature: [lo,hi] reversed, >>2, ×0.03125 (of "11"+"104")', [0x68, 0x0b], { startIndex: 1, endIndex: 0, shiftRight: 2, orderOfOperations: [{ operationType: 'Multiply', operationValue: 0.03125 }] }, 86.75],
    ['operations run in order, type case-insensitive', [10], { orderOfOperations: [{ operationType: 'add', operationValue: 5 }, { operationType: 'DIVIDE', operationValue: 2 }] }, 7.5],
    ['docs/bluetooth.md: SIG 23.45 °C [0x29,0x09] reversed → "9"+"41" / 100', [0x29, 0x09], { startIndex: 1, endIndex: 0, orderOfOperations: [{ operationType: 'Divide', operationValue: 100 }] }, 9.41],
    ['docs/bluetooth.md: SIG −5 °C [0x0c,0xfe] reversed → "254"+"12" / 100', [0x0c, 0xfe], { startIndex: 1, endIndex: 0, orderOfOperations: [{ operationType: 'Divide', operationValue: 100 }] }, 254.12],
    ['xiaomi humidity: byte 2 / 100', [0x1c, 0x09, 0x32], { startIndex: 2, endIndex: 2, orderOfOperations: [{ operationType: 'Divide', operationValue: 100 }] }, 0.5],
    ['%f keeps six decimals', [1], { orderOfOperations: [{ operationType: 'Divide', operationValue: 3 }] }, 0.333333],
    ['a uint64 parse failure (> 2^64-1) gives 0, as Go ignores the error', [255, 255, 255, 255, 255, 255, 255, 255], { startIndex: 0, endIndex: 7 }, 0],
    ['shiftLeft wraps at 64 bits', [1], { shiftLeft: 64 }, 0],
  ];
  it.each(cases)('%s', (_name, bytes, converter, expected) => {
    expect(kubeedgeConvert(Uint8Array.from(bytes), converter)).toBe(expected);
  });

  it('the kubeedgeCompat flag selects it in a visitor', () => {
    const c = codec({ kubeedgeCompat: true, dataConverter: { startIndex: 0, endIndex: 1 } }, 'int');
    expect(c.decode(Uint8Array.of(1, 2))).toBe(12);
    expect(codec({ dataConverter: { startIndex: 0, endIndex: 1 } }, 'int').decode(Uint8Array.of(1, 2))).toBe(258);
  });

  it('an index past the value is a coded error (Go would panic)', () => {
    expect(codeOf(() => kubeedgeConvert(Uint8Array.of(1), { endIndex: 3 }))).toBe('EDGETWIN_ERR_BLE_VALUE');
  });
});

describe("edgetwin's converter", () => {
  const cases: [string, Record<string, unknown>, KubeType, number[], PropertyValue][] = [
    ['[0x01,0x02] reads 258 (bytes, not decimal strings)', { dataConverter: { startIndex: 0, endIndex: 1 } }, 'int', [1, 2], 258],
    ['start > end reads little-endian', { dataConverter: { startIndex: 1, endIndex: 0 } }, 'int', [1, 2], 513],
    ['the same reversed selection / 100 decodes SIG 23.45 °C', { dataConverter: { startIndex: 1, endIndex: 0, orderOfOperations: [{ operationType: 'Divide', operationValue: 100 }] } }, 'float', [0x29, 0x09], 23.45],
    ['typed uint16be gives the same 258', { dataType: 'uint16be' }, 'int', [1, 2], 258],
    ['no config: byte 0, as KubeEdge', {}, 'int', [87, 1], 87],
    ['both shifts cut a bit field out of its width', { dataConverter: { startIndex: 0, endIndex: 1, shiftLeft: 4, shiftRight: 8 } }, 'int', [0xab, 0xcd], 0xbc],
    ['SensorTag temperature done right: (0x0b68 >> 2) × 0.03125', { dataConverter: { startIndex: 1, endIndex: 0, shiftRight: 2, orderOfOperations: [{ operationType: 'Multiply', operationValue: 0.03125 }] } }, 'float', [0x68, 0x0b], 22.8125],
    ['SIG temperature 0x2A6E: int16le × 0.01', { dataType: 'int16le', scale: 0.01 }, 'float', [0x29, 0x09], 23.45],
    ['negative temperature', { dataType: 'int16le', scale: 0.01 }, 'float', [0x0c, 0xfe], -5],
    ['scale then operations', { dataType: 'uint8', scale: 2, dataConverter: { orderOfOperations: [{ operationType: 'Subtract', operationValue: 40 }] } }, 'float', [30], 20],
    ['offset picks the field', { dataType: 'uint16le', offset: 2 }, 'int', [9, 9, 0x10, 0x00], 16],
    ['typed field inside a reversed selection', { dataType: 'uint16be', dataConverter: { startIndex: 3, endIndex: 2 } }, 'int', [0, 0, 0x34, 0x12], 0x1234],
    ['int model truncates towards zero', { dataType: 'uint8', scale: 0.1 }, 'int', [29], 2],
    ['bool model from a number', {}, 'boolean', [2], true],
    ['string model: whole value, NUL padding dropped', {}, 'string', [0x68, 0x69, 0, 0], 'hi'],
    ['bytes model: whole value', {}, 'bytes', [1, 2, 3], Uint8Array.of(1, 2, 3)],
    ['dataWrite read backwards (write can be read back)', { dataWrite: { ON: [1], OFF: [0] } }, 'string', [1], 'ON'],
    ['dataWrite keys parsed to the model', { dataWrite: { true: [1], false: [0] } }, 'boolean', [0], false],
  ];
  it.each(cases)('%s', (_name, config, type, bytes, expected) => {
    expect(codec(config, type).decode(Uint8Array.from(bytes))).toEqual(expected);
  });
});

describe('every dataType, both ways', () => {
  const table: [BleDataType, PropertyValue, number[]][] = [
    ['uint8', 200, [200]],
    ['int8', -2, [0xfe]],
    ['uint16le', 0x1234, [0x34, 0x12]],
    ['uint16be', 0x1234, [0x12, 0x34]],
    ['int16le', -2, [0xfe, 0xff]],
    ['int16be', -2, [0xff, 0xfe]],
    ['uint32le', 0x01020304, [4, 3, 2, 1]],
    ['uint32be', 0xfffffffe, [0xff, 0xff, 0xff, 0xfe]],
    ['int32le', -100000, [0x60, 0x79, 0xfe, 0xff]],
    ['int32be', -100000, [0xff, 0xfe, 0x79, 0x60]],
    ['float32le', 21.5, [0, 0, 0xac, 0x41]],
    ['float32be', 0.1, [0x3d, 0xcc, 0xcc, 0xcd]],
    ['float64le', 1.5, [0, 0, 0, 0, 0, 0, 0xf8, 0x3f]],
    ['float64be', -0.25, [0xbf, 0xd0, 0, 0, 0, 0, 0, 0]],
    ['utf8', 'héllo', [0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]],
    ['bool', true, [1]],
    ['bytes', Uint8Array.of(0xde, 0xad), [0xde, 0xad]],
  ];
  it.each(table)('%s', (dataType, value, bytes) => {
    expect(decodeDataType(Uint8Array.from(bytes), dataType)).toEqual(value);
    expect([...encodeDataType(value, dataType)]).toEqual(bytes);
  });

  it('float32 reads give the shortest decimal', () => {
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
  });

  it('too short, out of range and invalid UTF-8 are coded', () => {
    expect(codeOf(() => decodeDataType(Uint8Array.of(1), 'uint16le'))).toBe('EDGETWIN_ERR_BLE_VALUE');
    expect(codeOf(() => encodeDataType(256, 'uint8'))).toBe('EDGETWIN_ERR_BLE_VALUE');
    expect(codeOf(() => encodeDataType(-1, 'uint16be'))).toBe('EDGETWIN_ERR_BLE_VALUE');
    expect(codeOf(() => decodeDataType(Uint8Array.of(0xff), 'utf8'))).toBe('EDGETWIN_ERR_BLE_VALUE');
    expect(codeOf(() => selectBytes(Uint8Array.of(1), 0, 1))).toBe('EDGETWIN_ERR_BLE_VALUE');
  });
});

describe('writes', () => {
  const cases: [string, Record<string, unknown>, KubeType, PropertyValue, number[]][] = [
    ['dataWrite entry', { dataWrite: { ON: [1], OFF: [0] } }, 'string', 'OFF', [0]],
    ['dataWrite key case-insensitively', { dataWrite: { ON: [1] } }, 'string', 'on', [1]],
    ['dataWrite boolean keys', { dataWrite: { true: [0xa5, 1], false: [0xa5, 0] } }, 'boolean', true, [0xa5, 1]],
    ['dataWrite numeric key', { dataWrite: { '1.0': [9] } }, 'int', 1, [9]],
    ['typed with scale (inverse)', { dataType: 'int16le', scale: 0.01 }, 'float', 23.45, [0x29, 0x09]],
    ['typed with operations (inverse, reverse order)', { dataType: 'uint8', scale: 2, dataConverter: { orderOfOperations: [{ operationType: 'Subtract', operationValue: 40 }] } }, 'float', 20, [30]],
    ['untyped integer in a reversed selection', { dataConverter: { startIndex: 1, endIndex: 0 } }, 'int', 513, [1, 2]],
    ['boolean default', {}, 'boolean', true, [1]],
    ['string default', {}, 'string', 'ok', [0x6f, 0x6b]],
    ['dataWrite falls back to dataType', { dataType: 'uint16le', dataWrite: { max: [0xff, 0xff] } }, 'int', 10, [10, 0]],
  ];
  it.each(cases)('%s', (_name, config, type, value, bytes) => {
    expect([...codec(config, type).encode(value)]).toEqual(bytes);
  });

  it('round-trips what it writes', () => {
    const c = codec({ dataType: 'float32le', scale: 0.5 }, 'float');
    expect(c.decode(c.encode(12.25))).toBe(12.25);
  });

  it('refuses what it cannot write, with codes', () => {
    expect(codeOf(() => codec({ dataWrite: { ON: [1] } }, 'string').encode('DIM'))).toBe('EDGETWIN_ERR_BLE_VALUE');
    expect(codeOf(() => codec({ kubeedgeCompat: true }, 'int').encode(3))).toBe('EDGETWIN_ERR_BLE_VALUE');
    expect(codeOf(() => codec({ dataConverter: { shiftRight: 2 } }, 'int').encode(3))).toBe('EDGETWIN_ERR_MAPPER_CONFIG');
    expect(codeOf(() => codec({ dataType: 'uint8', offset: 1 }, 'int').encode(3))).toBe('EDGETWIN_ERR_MAPPER_CONFIG');
    expect(codeOf(() => codec({ dataType: 'uint8' }, 'int').encode(300))).toBe('EDGETWIN_ERR_BLE_VALUE');
  });

  it('places fields for a simulator that composes one characteristic from several properties', () => {
    expect(codec({ dataType: 'uint16le', offset: 2 }, 'int').encodeField(0x1234)).toEqual({ at: 2, bytes: Uint8Array.of(0x34, 0x12) });
    expect(codec({ dataConverter: { startIndex: 3, endIndex: 2 } }, 'int').encodeField(0x1234)).toEqual({ at: 2, bytes: Uint8Array.of(0x34, 0x12) });
  });

  it('inverts operations', () => {
    const ops = [{ operationType: 'Multiply', operationValue: 4 }, { operationType: 'add', operationValue: 1 }];
    expect(invertOperations(9, ops)).toBe(2);
  });
});

describe('config combinations that cannot mean anything', () => {
  const bad: [string, Record<string, unknown>, KubeType][] = [
    ['kubeedgeCompat with dataType', { kubeedgeCompat: true, dataType: 'uint8' }, 'int'],
    ['shifts on a float', { dataType: 'float32le', dataConverter: { shiftLeft: 1 } }, 'float'],
    ['scale on utf8', { dataType: 'utf8', scale: 2 }, 'string'],
    ['arithmetic on a string model', { dataConverter: { orderOfOperations: [{ operationType: 'Add', operationValue: 1 }] } }, 'string'],
    ['division by zero', { dataConverter: { orderOfOperations: [{ operationType: 'divide', operationValue: 0 }] } }, 'float'],
    ['more than 8 bytes as one untyped integer', { dataConverter: { startIndex: 0, endIndex: 8 } }, 'int'],
  ];
  it.each(bad)('%s', (_name, config, type) => {
    expect(codeOf(() => codec(config, type))).toBe('EDGETWIN_ERR_MAPPER_CONFIG');
  });

  it('the schema refuses unknown operation types and keys', () => {
    expect(codeOf(() => parseVisitorConfig({ characteristicUUID: CHAR, dataConverter: { orderOfOperations: [{ operationType: 'Modulo', operationValue: 2 }] } }, 'p'))).toBe('EDGETWIN_ERR_MAPPER_CONFIG');
    expect(codeOf(() => parseVisitorConfig({ characteristicUUID: CHAR, datatype: 'uint8' }, 'p'))).toBe('EDGETWIN_ERR_MAPPER_CONFIG');
    expect(codeOf(() => parseVisitorConfig({ characteristicUUID: 'xyz' }, 'p'))).toBe('EDGETWIN_ERR_MAPPER_CONFIG');
  });
});
