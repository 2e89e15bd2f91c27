import { describe, expect, it } from 'vitest';
import { resolveConfig } from './config.js';
import { compileModel } from './models.js';
import type { JsonSchema, PropertyModel, PropertyValue } from './types.js';

/** One property compiled through the real model compiler. */
function property(schema: JsonSchema): PropertyModel {
  const model = compileModel({ title: 'test-model', type: 'object', properties: { p: schema } });
  const prop = model.properties.get('p');
  if (!prop) throw new Error('property not compiled');
  return prop;
}

const TYPE = 'EDGETWIN_ERR_VALUE_TYPE';
const RANGE = 'EDGETWIN_ERR_MODEL_VALIDATION';

type Row = readonly [wire: string, expected: { value: PropertyValue; wire: string } | { code: string; message?: string | RegExp }];

function runTable(schema: JsonSchema, rows: readonly Row[]): void {
  const prop = property(schema);
  it.each(rows)('parse(%j)', (wire, expected) => {
    const result = prop.parse(wire);
    if ('code' in expected) {
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.code).toBe(expected.code);
      if (expected.message !== undefined) expect(result.message).toMatch(expected.message);
    } else {
      expect(result).toEqual({ ok: true, value: expected.value, wire: expected.wire });
    }
  });
}

describe('int (type: integer)', () => {
  runTable({ type: 'integer', minimum: -100, maximum: 9007199254740991 }, [
    ['42', { value: 42, wire: '42' }],
    ['+42', { value: 42, wire: '42' }],
    ['-7', { value: -7, wire: '-7' }],
    ['  12 \n', { value: 12, wire: '12' }],
    ['007', { value: 7, wire: '7' }],
    ['-0', { value: 0, wire: '0' }],
    ['9007199254740991', { value: 9007199254740991, wire: '9007199254740991' }],
    ['9007199254740992', { code: TYPE, message: /safe integer/ }],
    ['1.5', { code: TYPE, message: '"1.5" is not an integer' }],
    ['21.0', { code: TYPE }],
    ['1e3', { code: TYPE }],
    ['0x10', { code: TYPE }],
    ['', { code: TYPE }],
    ['   ', { code: TYPE }],
    ['abc', { code: TYPE, message: '"abc" is not an integer' }],
    ['1 2', { code: TYPE }],
    ['-101', { code: RANGE, message: 'must be >= -100' }],
  ]);
});

describe('float (type: number)', () => {
  runTable({ type: 'number', minimum: 5, maximum: 35 }, [
    ['21', { value: 21, wire: '21' }],
    ['21.0', { value: 21, wire: '21' }],
    ['21.50', { value: 21.5, wire: '21.5' }],
    ['1e1', { value: 10, wire: '10' }],
    ['1E+1', { value: 10, wire: '10' }],
    ['2.5e1', { value: 25, wire: '25' }],
    ['+7', { value: 7, wire: '7' }],
    ['.5e1', { value: 5, wire: '5' }],
    ['6.', { value: 6, wire: '6' }],
    [' 21 ', { value: 21, wire: '21' }],
    ['\t3.5e0\n', { code: RANGE, message: 'must be >= 5' }],
    ['40', { code: RANGE, message: 'must be <= 35' }],
    ['abc', { code: TYPE, message: '"abc" is not a number' }],
    ['NaN', { code: TYPE }],
    ['Infinity', { code: TYPE }],
    ['-Infinity', { code: TYPE }],
    ['1e400', { code: TYPE, message: /out of range/ }],
    ['0x10', { code: TYPE }],
    ['0b1', { code: TYPE }],
    ['1_000', { code: TYPE }],
    ['', { code: TYPE }],
    ['.', { code: TYPE }],
    ['e5', { code: TYPE }],
    ['1e', { code: TYPE }],
    ['--1', { code: TYPE }],
  ]);
});

describe('double (type: number, format: double)', () => {
  const prop = property({ type: 'number', format: 'double' });
  it('maps to KubeEdge DOUBLE and parses like float', () => {
    expect(prop.type).toBe('double');
    expect(prop.parse('1.7976931348623157e308')).toMatchObject({ ok: true, wire: '1.7976931348623157e+308' });
    expect(prop.parse('5e-324')).toMatchObject({ ok: true, value: 5e-324 });
    expect(prop.parse('0.1')).toEqual({ ok: true, value: 0.1, wire: '0.1' });
    expect(prop.parse('1.8e308')).toMatchObject({ ok: false, code: TYPE });
  });
});

describe('boolean', () => {
  runTable({ type: 'boolean' }, [
    ['true', { value: true, wire: 'true' }],
    ['false', { value: false, wire: 'false' }],
    ['TRUE', { value: true, wire: 'true' }],
    ['False', { value: false, wire: 'false' }],
    [' true\n', { value: true, wire: 'true' }],
    ['1', { code: TYPE, message: /not a boolean/ }],
    ['0', { code: TYPE }],
    ['yes', { code: TYPE }],
    ['', { code: TYPE }],
    ['truee', { code: TYPE }],
  ]);
});

describe('string', () => {
  runTable({ type: 'string', enum: ['off', 'heat', 'cool', ' spaced '] }, [
    ['heat', { value: 'heat', wire: 'heat' }],
    [' spaced ', { value: ' spaced ', wire: ' spaced ' }],
    [' heat', { code: RANGE, message: 'must be one of "off", "heat", "cool", " spaced "' }],
    ['HEAT', { code: RANGE }],
  ]);
  runTable({ type: 'string', pattern: '^[A-Z]{2}$', maxLength: 2 }, [
    ['AB', { value: 'AB', wire: 'AB' }],
    ['', { code: RANGE }],
    ['ABC', { code: RANGE, message: /must NOT have more than 2 characters/ }],
    ['ab', { code: RANGE, message: /must match pattern/ }],
  ]);
});

describe('bytes (type: string, contentEncoding: base64)', () => {
  runTable({ type: 'string', contentEncoding: 'base64', maxLength: 8 }, [
    ['AQID', { value: new Uint8Array([1, 2, 3]), wire: 'AQID' }],
    ['AQI=', { value: new Uint8Array([1, 2]), wire: 'AQI=' }],
    ['AQ==', { value: new Uint8Array([1]), wire: 'AQ==' }],
    ['', { value: new Uint8Array([]), wire: '' }],
    ['/+8=', { value: new Uint8Array([0xff, 0xef]), wire: '/+8=' }],
    // Non-zero padding bits decode to the same bytes; the canonical form is re-encoded.
    ['AR==', { value: new Uint8Array([1]), wire: 'AQ==' }],
    ['AQ', { code: TYPE, message: '"AQ" is not base64' }],
    ['AQ=', { code: TYPE }],
    [' AQID', { code: TYPE }],
    ['AQ\nID', { code: TYPE }],
    ['_-8=', { code: TYPE }],
    ['A===', { code: TYPE }],
    ['AQIDBAUG', { value: new Uint8Array([1, 2, 3, 4, 5, 6]), wire: 'AQIDBAUG' }],
    ['AQIDBAUGBw==', { code: RANGE, message: /more than 8 characters/ }],
  ]);
  it('returns a plain Uint8Array', () => {
    const result = property({ type: 'string', contentEncoding: 'base64' }).parse('AQID');
    expect(result.ok && result.value.constructor).toBe(Uint8Array);
  });
});

describe('check (already-typed values)', () => {
  const cases: ReadonlyArray<[JsonSchema, PropertyValue, { wire: string } | { code: string }]> = [
    [{ type: 'integer' }, 5, { wire: '5' }],
    [{ type: 'integer' }, -0, { wire: '0' }],
    [{ type: 'integer' }, 5.5, { code: TYPE }],
    [{ type: 'integer' }, 2 ** 53, { code: TYPE }],
    [{ type: 'integer' }, '5', { code: TYPE }],
    [{ type: 'integer', maximum: 3 }, 5, { code: RANGE }],
    [{ type: 'number' }, 1e21, { wire: '1e+21' }],
    [{ type: 'number' }, Number.NaN, { code: TYPE }],
    [{ type: 'number' }, Number.POSITIVE_INFINITY, { code: TYPE }],
    [{ type: 'number' }, true, { code: TYPE }],
    [{ type: 'boolean' }, false, { wire: 'false' }],
    [{ type: 'boolean' }, 1, { code: TYPE }],
    [{ type: 'string' }, 'x y', { wire: 'x y' }],
    [{ type: 'string' }, new Uint8Array([1]), { code: TYPE }],
    [{ type: 'string', contentEncoding: 'base64' }, new Uint8Array([1, 2, 3]), { wire: 'AQID' }],
    [{ type: 'string', contentEncoding: 'base64' }, 'AQID', { code: TYPE }],
    [{ type: 'string', contentEncoding: 'base64', maxLength: 4 }, new Uint8Array(6), { code: RANGE }],
  ];
  it.each(cases)('%j check(%o)', (schema, value, expected) => {
    const result = property(schema).check(value);
    if ('code' in expected) expect(result).toMatchObject({ ok: false, code: expected.code });
    else expect(result).toMatchObject({ ok: true, wire: expected.wire });
  });

  it('checks a view into a larger buffer by its own bytes only', () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const result = property({ type: 'string', contentEncoding: 'base64' }).check(backing.subarray(2, 5));
    expect(result).toMatchObject({ ok: true, wire: 'AQID' });
  });
});

describe('PropertyModel fields', () => {
  it('exposes readOnly, unit, description and bounds from the subschema', () => {
    const prop = property({ type: 'number', minimum: -40, exclusiveMaximum: 125, unit: 'Celsius', readOnly: true, description: 'air' });
    expect(prop).toMatchObject({ name: 'p', type: 'float', readOnly: true, unit: 'Celsius', description: 'air', minimum: -40, maximum: 125 });
    expect(property({ type: 'boolean' })).toMatchObject({ type: 'boolean', readOnly: false, unit: undefined });
  });

  it('rejects a non-string wire value handed over by untyped JavaScript', () => {
    const result = property({ type: 'number' }).parse(21 as unknown as string);
    expect(result).toMatchObject({ ok: false, code: TYPE });
  });

  it('truncates a huge wire value in the message', () => {
    const result = property({ type: 'number' }).parse('x'.repeat(10_000));
    expect(!result.ok && result.message.length).toBeLessThan(100);
  });
});

// STYLE.md §16: every parser meets its maximum-size input. A value can be no longer than the
// largest payload edgetwin accepts; each type gets the inputs that made regexes backtrack
// (long runs its quantifiers could share, then a character that rejects the whole). No timing
// is asserted: a superlinear parser would not finish within the test timeout (the old float
// pattern took minutes on 256 KiB), and eslint-plugin-regexp keeps such patterns out.
describe('maximum-size values (mqtt.maxPayloadBytes)', () => {
  const max = resolveConfig({}).mqtt.maxPayloadBytes;
  const run = (c: string, n = max): string => c.repeat(n);
  type Verdict = { readonly value: PropertyValue } | { readonly code: string };
  const cases: ReadonlyArray<readonly [what: string, schema: JsonSchema, wire: string, verdict: Verdict]> = [
    ['int: digits then a letter', { type: 'integer' }, `${run('1', max - 1)}x`, { code: TYPE }],
    ['int: digits (too large)', { type: 'integer' }, run('9'), { code: TYPE }],
    ['int: zeros then 7', { type: 'integer' }, `+${run('0', max - 2)}7`, { value: 7 }],
    ['int: spaces around', { type: 'integer' }, `${run(' ', max / 2 - 1)}5${run(' ', max / 2)}`, { value: 5 }],
    ['float: digits then a letter', { type: 'number' }, `${run('1', max - 1)}x`, { code: TYPE }],
    ['float: digits, a dot, digits, then a letter', { type: 'number' }, `${run('1', max / 2)}.${run('1', max / 2 - 2)}x`, { code: TYPE }],
    ['float: digits (overflows)', { type: 'number' }, run('9'), { code: TYPE }],
    ['float: a long fraction', { type: 'number' }, `0.${run('5', max - 2)}`, { value: 0.5555555555555556 }],
    ['float: a long exponent, then a sign', { type: 'number' }, `1e${run('0', max - 3)}-`, { code: TYPE }],
    ['float: dots', { type: 'number' }, run('.'), { code: TYPE }],
    ['double: zeros, dot, zeros, exponent', { type: 'number', format: 'double' }, `${run('0', max / 2)}.${run('0', max / 2 - 3)}e1`, { value: 0 }],
    ['double: signs', { type: 'number', format: 'double' }, run('-'), { code: TYPE }],
    ['boolean: spaces around true', { type: 'boolean' }, `${run(' ', max - 4)}true`, { value: true }],
    ['boolean: t…', { type: 'boolean' }, run('t'), { code: TYPE }],
    ['string: any text', { type: 'string' }, run('a'), { value: run('a') }],
    ['string: pattern (a model of ours)', { type: 'string', pattern: '^[a-z]+$' }, `${run('a', max - 1)}!`, { code: RANGE }],
    ['bytes: base64 groups', { type: 'string', contentEncoding: 'base64' }, run('A'), { value: new Uint8Array((max / 4) * 3) }],
    ['bytes: groups then a bad character', { type: 'string', contentEncoding: 'base64' }, `${run('A', max - 1)}!`, { code: TYPE }],
    ['bytes: groups then bad padding', { type: 'string', contentEncoding: 'base64' }, `${run('A', max - 4)}A===`, { code: TYPE }],
  ];
  it.each(cases)('%s', (_what, schema, wire, verdict) => {
    expect(wire.length).toBe(max);
    const result = property(schema).parse(wire);
    if ('code' in verdict) expect(result).toMatchObject({ ok: false, code: verdict.code });
    else expect(result).toMatchObject({ ok: true, value: verdict.value });
  }, 120_000);
});
