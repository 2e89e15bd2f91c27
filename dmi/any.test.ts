// The Any codec against the bytes KubeEdge's Go code puts on the wire (docs/dmi.md, "Any").
import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../errors.js';
import { MAX_NESTING, packConfig, packValue, unpackConfig, unpackValue } from './any.js';

const hex = (a: { value: Uint8Array }): string => Buffer.from(a.value).toString('hex');
const any = (name: string, bytes: string) => ({ type_url: `type.googleapis.com/google.protobuf.${name}`, value: Buffer.from(bytes, 'hex') });
const flat = { nested: false };

describe('packing configData values as edgecore does', () => {
  it('strings, float32 numbers and booleans, byte for byte', () => {
    expect(packValue('TCP', '/k', flat)).toMatchObject({ type_url: 'type.googleapis.com/google.protobuf.StringValue' });
    expect(hex(packValue('TCP', '/k', flat))).toBe('0a03544350');
    expect(hex(packValue(1, '/k', flat))).toBe('0d0000803f');
    expect(packValue(1, '/k', flat).type_url).toBe('type.googleapis.com/google.protobuf.FloatValue');
    expect(hex(packValue(0.1, '/k', flat))).toBe('0dcdcccc3d');
    expect(hex(packValue(true, '/k', flat))).toBe('0801');
  });

  it('leaves proto3 defaults out, as Go does: false, 0 and "" are empty values', () => {
    expect(hex(packValue(false, '/k', flat))).toBe('');
    expect(hex(packValue(0, '/k', flat))).toBe('');
    expect(hex(packValue('', '/k', flat))).toBe('');
  });

  it('integers float32 would change travel as Int32Value/Int64Value (mapper-framework decodes both)', () => {
    const a = packValue(16_777_217, '/k', flat);
    expect(a.type_url).toMatch(/Int32Value$/);
    expect(unpackValue(a, '/k')).toBe(16_777_217);
    const b = packValue(2 ** 40 + 1, '/k', flat);
    expect(b.type_url).toMatch(/Int64Value$/);
    expect(unpackValue(b, '/k')).toBe(2 ** 40 + 1);
  });

  it('refuses what would arrive changed or cannot travel, with a coded error naming the key', () => {
    for (const bad of [Math.PI, Number.NaN, Infinity, null, undefined, { a: 1 }, [1, 2]]) {
      let err: unknown;
      try {
        packValue(bad, '/spec/protocol/configData/x', flat);
      } catch (e) {
        err = e;
      }
      expect(isEdgetwinError(err, 'EDGETWIN_ERR_DMI_VALUE'), JSON.stringify(bad) ?? 'undefined').toBe(true);
      expect((err as Error).message).toContain('/spec/protocol/configData/x');
    }
  });

  it('packConfig lists every bad key at once', () => {
    let err: unknown;
    try {
      packConfig({ ok: 'x', a: { nested: true }, b: Math.PI }, '/c', flat);
    } catch (e) {
      err = e;
    }
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_DMI_VALUE')).toBe(true);
    expect((err as { details: Array<{ path: string }> }).details.map((d) => d.path)).toEqual(['/c/a', '/c/b']);
  });

  it('nested maps and lists travel as Struct/ListValue to peers that decode them (edgetwin mappers)', () => {
    const value = { dataWrite: { ON: [1], OFF: [0] }, ops: [{ operationType: 'Add', operationValue: 1.5 }], none: null, flag: false };
    const a = packValue(value, '/k', { nested: true });
    expect(a.type_url).toBe('type.googleapis.com/google.protobuf.Struct');
    expect(unpackValue(a, '/k')).toEqual(value);
    const l = packValue([1, 'x', [true]], '/k', { nested: true });
    expect(l.type_url).toBe('type.googleapis.com/google.protobuf.ListValue');
    expect(unpackValue(l, '/k')).toEqual([1, 'x', [true]]);
  });
});

describe('unpacking what KubeEdge sends', () => {
  it('decodes the five wrappers mapper-framework knows, and float32 reads back in its shortest form', () => {
    expect(unpackValue(any('StringValue', '0a03544350'), '/k')).toBe('TCP');
    expect(unpackValue(any('FloatValue', '0d0000803f'), '/k')).toBe(1);
    expect(unpackValue(any('FloatValue', '0dcdcccc3d'), '/k')).toBe(0.1);
    expect(unpackValue(any('Int32Value', '0803'), '/k')).toBe(3);
    expect(unpackValue(any('Int64Value', '0803'), '/k')).toBe(3);
    expect(unpackValue(any('BoolValue', '0801'), '/k')).toBe(true);
  });

  it('accepts empty values as the proto3 defaults', () => {
    expect(unpackValue(any('BoolValue', ''), '/k')).toBe(false);
    expect(unpackValue(any('FloatValue', ''), '/k')).toBe(0);
    expect(unpackValue(any('StringValue', ''), '/k')).toBe('');
  });

  it('takes the type name after the last slash, as mapper-framework does', () => {
    expect(unpackValue({ type_url: 'example.com/x/google.protobuf.StringValue', value: Buffer.from('0a0161', 'hex') }, '/k')).toBe('a');
  });

  it('refuses unknown types and garbled bytes with a coded error', () => {
    const cases = [
      { type_url: 'type.googleapis.com/google.protobuf.Duration', value: Buffer.alloc(0) },
      { type_url: 'type.googleapis.com/acme.Secret', value: Buffer.alloc(0) },
      { type_url: '', value: Buffer.alloc(0) },
      any('StringValue', '0a05'), // a length past the end
      any('FloatValue', '0d0000'), // a fixed32 cut short
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        unpackValue(c, '/k');
      } catch (e) {
        err = e;
      }
      expect(isEdgetwinError(err, 'EDGETWIN_ERR_DMI_VALUE'), c.type_url).toBe(true);
    }
  });

  const varint = (n: number): Buffer => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return Buffer.from(out);
  };
  /** ListValue{values: [Value{listValue: …}]}, `depth` levels, at most about `maxBytes`: sizes first, then one pass. */
  const nestedLists = (depth: number, maxBytes = Infinity): Buffer => {
    const bodies = [0];
    const values: number[] = [0];
    for (let i = 1; i <= depth; i++) {
      const value = 1 + varint(bodies[i - 1]!).length + bodies[i - 1]!; // Value.list_value = 6
      const body = 1 + varint(value).length + value; // ListValue.values = 1
      if (body > maxBytes) break;
      values.push(value);
      bodies.push(body);
    }
    const levels = bodies.length - 1;
    const out = Buffer.alloc(bodies[levels]!);
    let at = 0;
    for (let i = levels; i >= 1; i--) {
      out[at++] = 0x0a;
      at += varint(values[i]!).copy(out, at);
      out[at++] = 0x32;
      at += varint(bodies[i - 1]!).copy(out, at);
    }
    return out;
  };

  it('refuses nesting past MAX_NESTING and accepts it up to there', () => {
    const list = (bytes: Buffer) => ({ type_url: 'type.googleapis.com/google.protobuf.ListValue', value: bytes });
    expect(() => unpackValue(list(nestedLists(MAX_NESTING - 1)), '/k')).not.toThrow();
    expect(() => unpackValue(list(nestedLists(MAX_NESTING + 2)), '/k')).toThrow(/nests deeper/);
  });

  it('its largest input, a gRPC message of nesting (4 MiB), is a coded refusal, not a crash', () => {
    let err: unknown;
    try {
      unpackValue({ type_url: 'type.googleapis.com/google.protobuf.ListValue', value: nestedLists(2_000_000, 4 * 1024 * 1024) }, '/k');
    } catch (e) {
      err = e;
    }
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_DMI_VALUE')).toBe(true);
  });

  it('unpackConfig lists every bad key', () => {
    let err: unknown;
    try {
      unpackConfig({ a: any('StringValue', '0a0161'), b: { type_url: 'x/y', value: Buffer.alloc(0) }, c: any('FloatValue', '0d00') }, '/c');
    } catch (e) {
      err = e;
    }
    expect((err as { details: Array<{ path: string }> }).details.map((d) => d.path)).toEqual(['/c/b', '/c/c']);
    expect(unpackConfig({ a: any('StringValue', '0a0161') }, '/c')).toEqual({ a: 'a' });
  });
});
