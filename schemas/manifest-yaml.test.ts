// The fast manifest parse (js-yaml with YAML 1.2's core schema, schemas/devices.ts) gives exactly
// what `yaml` gives: the same values for every scalar form, the same documents, and a broken
// document still isolated (the fallback) so its neighbours load.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseManifestFile } from './devices.js';

const viaYaml = (text: string): unknown[] => parseAllDocuments(text).map((d) => d.toJS() as unknown);
const viaFast = (text: string): unknown[] => parseManifestFile(text).map((d) => ('obj' in d ? d.obj : d));

const SCALARS = [
  '1', '-1', '+12', '007', '0o17', '0o8', '0x1F', '0xg', '1_000', '0b101', '1.5', '.5', '5.', '1e3', '1E-3', '-.inf', '.Inf', '.NAN', '.nan', 'nan',
  'true', 'True', 'TRUE', 'tRUE', 'yes', 'no', 'on', 'off', 'y', 'n', 'null', 'Null', '~', '', 'NULL', 'nULL',
  '2001-12-14', '2001-12-14t21:59:43.10-05:00', '12:30', '1:20:30', '"1"', "'true'", '"null"', '1.0.0', '0.1', '-0', '99999999999999999999',
  'a b', '"x\\ud800y"', 'é', '=', '<<', '!!str 1', '!!int "3"', '[1, "2", true]', '{a: 1}',
];

describe('parseManifestFile (js-yaml, YAML 1.2 core) against yaml', () => {
  it('resolves every scalar form the same way', () => {
    for (const s of SCALARS) {
      const text = `value: ${s}\n`;
      expect(viaFast(text), s).toEqual(viaYaml(text));
    }
  });

  it('resolves random plain scalars the same way', () => {
    const chars = fc.constantFrom(...'0123456789+-._eExXoOabfinNtTrRuUlL~ '.split(''));
    fc.assert(
      fc.property(fc.string({ unit: chars, minLength: 1, maxLength: 12 }), (s) => {
        const text = `value: ${s.trim() === '' ? '""' : s}\n`;
        let expected: unknown[];
        try {
          const docs = parseAllDocuments(text);
          if (docs.some((d) => d.errors.length > 0)) return; // not YAML: the fallback handles it
          expected = docs.map((d) => d.toJS() as unknown);
        } catch {
          return;
        }
        expect(viaFast(text)).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same documents for every example manifest and a large generated file', () => {
    const dir = path.join(import.meta.dirname, '..', 'examples', 'devices');
    for (const f of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      expect(viaFast(text), f).toEqual(viaYaml(text));
    }
    const doc = (i: number): string => `apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata:\n  name: d-${i}\n  namespace: default\nspec:\n  deviceModelRef: { name: thermostat }\n  protocol:\n    protocolName: modbus\n    configData: { port: "1502", slaveID: 1 }\n  properties:\n    - name: temperature\n      collectCycle: 1000\n      visitors: { protocolName: modbus, configData: { register: HoldingRegister, offset: 0, limit: 1, scale: 0.1 } }\n`;
    const text = Array.from({ length: 500 }, (_, i) => doc(i)).join('---\n');
    expect(viaFast(text)).toEqual(viaYaml(text));
  });

  it('keeps per-document errors: a broken document is reported, its neighbours parse', () => {
    const text = 'a: 1\n---\nb: [unclosed\n---\nc: 3\n';
    const docs = parseManifestFile(text);
    expect(docs).toHaveLength(3);
    expect(docs[0]).toEqual({ obj: { a: 1 } });
    expect('errors' in docs[1]! && docs[1].errors.length > 0).toBe(true);
    expect(docs[2]).toEqual({ obj: { c: 3 } });
  });

  it('refuses duplicate keys like yaml does (through the fallback, per document)', () => {
    const docs = parseManifestFile('a: 1\na: 2\n---\nb: 1\n');
    expect('errors' in docs[0]!).toBe(true);
    expect(docs[1]).toEqual({ obj: { b: 1 } });
  });
});
