import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isEdgetwinError, type EdgetwinError } from '../errors.js';
import { BUNDLED_MODELS_DIR, compileModel, findBundledModelsDir, loadModels } from './models.js';
import type { JsonSchema } from './types.js';

const S = 'https://json-schema.org/draft/2020-12/schema';

function model(properties: Record<string, unknown>, extra: Record<string, unknown> = {}): JsonSchema {
  return { $schema: S, title: 'm', type: 'object', properties, ...extra };
}

function compileError(schema: unknown, source?: string): EdgetwinError {
  try {
    compileModel(schema, source);
  } catch (err) {
    if (isEdgetwinError(err)) return err;
    throw err;
  }
  throw new Error('expected compileModel to throw');
}

describe('compileModel', () => {
  it('compiles the DESIGN.md thermostat into typed properties', () => {
    const m = compileModel(
      model(
        {
          temperature: { type: 'number', minimum: -40, maximum: 125, unit: 'Celsius', readOnly: true },
          count: { type: 'integer' },
          raw: { type: 'string', contentEncoding: 'base64' },
          energy: { type: 'number', format: 'double' },
        },
        { $id: 'urn:edgetwin:model:m', description: 'demo' },
      ),
      'm.json',
    );
    expect(m).toMatchObject({ name: 'm', id: 'urn:edgetwin:model:m', description: 'demo', source: 'm.json' });
    expect([...m.properties.values()].map((p) => [p.name, p.type])).toEqual([
      ['temperature', 'float'],
      ['count', 'int'],
      ['raw', 'bytes'],
      ['energy', 'double'],
    ]);
  });

  it('compiles the same model (same $id) again, as a reload does', () => {
    const schema = model({ a: { type: 'integer' } }, { $id: 'urn:edgetwin:model:reload' });
    compileModel(schema);
    expect(compileModel(structuredClone(schema)).properties.get('a')?.parse('1')).toMatchObject({ ok: true });
  });

  it('accepts a model with no $schema and no properties', () => {
    expect(compileModel({ title: 'empty', type: 'object', properties: {} }).properties.size).toBe(0);
  });

  // Each row: a broken model, and the JSON pointer its error must name.
  const rejections: ReadonlyArray<[string, unknown, string]> = [
    ['not valid JSON Schema (minimum: "x")', model({ setpoint: { type: 'number', minimum: 'x' } }), '/properties/setpoint/minimum'],
    ['negative maxLength', model({ s: { type: 'string', maxLength: -1 } }), '/properties/s/maxLength'],
    ['missing title', { $schema: S, type: 'object', properties: {} }, '/title'],
    ['title not DNS-1123', model({}, { title: 'My_Thermostat' }), '/title'],
    ['title too long', model({}, { title: 'a'.repeat(254) }), '/title'],
    ['title not a string', model({}, { title: 5 }), '/title'],
    ['top-level type not object', model({}, { type: 'array' }), '/type'],
    ['missing properties', { title: 'm', type: 'object' }, '/properties'],
    ['unsupported type (array)', model({ tags: { type: 'array', items: { type: 'string' } } }), '/properties/tags/type'],
    ['unsupported type (object)', model({ o: { type: 'object' } }), '/properties/o/type'],
    ['unsupported type (null)', model({ n: { type: 'null' } }), '/properties/n/type'],
    ['type union', model({ u: { type: ['number', 'null'] } }), '/properties/u/type'],
    ['property without type', model({ t: { minimum: 1 } }), '/properties/t/type'],
    ['property schema not an object', model({ t: true }), '/properties/t'],
    ['contentEncoding on a number', model({ x: { type: 'integer', contentEncoding: 'base64' } }), '/properties/x/type'],
    ['contentEncoding other than base64', model({ x: { type: 'string', contentEncoding: 'base32' } }), '/properties/x/contentEncoding'],
    ['property name KubeEdge would reject', model({ 'bad name': { type: 'number' } }), '/properties/bad name'],
    ['unit not a string', model({ x: { type: 'number', unit: 3 } }), '/properties/x/unit'],
    ['unknown keyword (strict mode)', model({ x: { type: 'number', units: 'C' } }), '/properties/x/units'],
    ['number keyword on a boolean', model({ x: { type: 'boolean', minimum: 0 } }), '/properties/x/minimum'],
    ['unknown format', model({ x: { type: 'string', format: 'colour' } }), '/properties/x/format'],
    ['unresolvable $ref', model({ x: { type: 'number', $ref: '#/$defs/nope' } }), '/properties/x'],
    ['unknown top-level keyword', model({}, { version: 2 }), '/version'],
    ['another dialect', model({}, { $schema: 'http://json-schema.org/draft-07/schema#' }), '/$schema'],
    // Valid JSON Schema that admits no value, or names values it refuses itself.
    ['minimum > maximum', model({ setpoint: { type: 'number', minimum: 35, maximum: 5 } }), '/properties/setpoint/minimum'],
    ['exclusiveMinimum = maximum', model({ x: { type: 'number', exclusiveMinimum: 5, maximum: 5 } }), '/properties/x/exclusiveMinimum'],
    ['minimum = exclusiveMaximum', model({ x: { type: 'number', minimum: 5, exclusiveMaximum: 5 } }), '/properties/x/minimum'],
    ['exclusiveMinimum > exclusiveMaximum', model({ x: { type: 'number', exclusiveMinimum: 9, exclusiveMaximum: 1 } }), '/properties/x/exclusiveMinimum'],
    ['no integer between the bounds', model({ n: { type: 'integer', minimum: 1.2, maximum: 1.8 } }), '/properties/n/minimum'],
    ['minLength > maxLength', model({ s: { type: 'string', minLength: 4, maxLength: 2 } }), '/properties/s/minLength'],
    ['an enum value over maximum', model({ n: { type: 'integer', enum: [1, 2, 50], maximum: 10 } }), '/properties/n/enum/2'],
    ['an enum value too long', model({ s: { type: 'string', enum: ['off', 'standby'], maxLength: 4 } }), '/properties/s/enum/1'],
    ['a default outside the range', model({ x: { type: 'number', minimum: 0, maximum: 10, default: 11 } }), '/properties/x/default'],
    ['a default of another type', model({ x: { type: 'number', default: 'warm' } }), '/properties/x/default'],
    ['a const the schema refuses', model({ x: { type: 'number', const: 3, minimum: 5 } }), '/properties/x/const'],
    ['not an object', [1, 2], '(root)'],
    ['null', null, '(root)'],
  ];

  it.each(rejections)('rejects %s', (_label, schema, pointer) => {
    const err = compileError(schema, 'models/bad.json');
    expect(err.code).toBe('EDGETWIN_ERR_MODEL_INVALID');
    expect(err.message).toContain('models/bad.json');
    expect(err.message).toContain(pointer);
    expect(err.details.map((d) => d.path || '(root)')).toContain(pointer);
  });

  it('names both bounds of an empty range, and accepts a range of one value', () => {
    expect(compileError(model({ setpoint: { type: 'number', minimum: 35, maximum: 5 } }), 'models/t.json').message).toBe(
      'Invalid device model models/t.json: /properties/setpoint/minimum minimum 35 is greater than maximum 5: no value is allowed',
    );
    const one = compileModel(model({ x: { type: 'integer', minimum: 5, maximum: 5, default: 5, enum: [5] } }));
    expect(one.properties.get('x')?.parse('5')).toMatchObject({ ok: true });
  });

  it('lists every problem, not just the first', () => {
    const err = compileError({ title: 'Bad Title', type: 'object', properties: { a: { type: 'array' }, b: { type: 'number', minimum: 'x' } } });
    const paths = err.details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['/title', '/properties/a/type', '/properties/b/minimum']));
    for (const p of paths) expect(err.message).toContain(p);
  });

  it('explains a failed name rule instead of printing the regex', () => {
    expect(compileError(model({ 'bad name': { type: 'number' } })).message).toContain('/properties/bad name is not a valid key name: must be a KubeEdge twin key');
    expect(compileError(model({}, { title: 'Bad' })).message).toContain('/title must be a DNS-1123 subdomain');
  });

  it('says which types are supported', () => {
    expect(compileError(model({ tags: { type: 'array' } })).message).toMatch(/must be one of "integer", "number", "boolean", "string"/);
  });

  it('names an inline model by its title when there is no file', () => {
    expect(compileError(model({ x: { type: 'array' } }, { title: 'inline-one' })).message).toContain('"inline-one"');
  });
});

describe('loadModels', () => {
  const root = mkdtempSync(join(tmpdir(), 'edgetwin-models-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const good = (title: string): string => JSON.stringify(model({ v: { type: 'number' } }, { title }));
  const dir = join(root, 'models');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.json'), good('alpha'));
  writeFileSync(join(dir, 'b.yaml'), `title: beta\ntype: object\nproperties:\n  on: { type: boolean }\n`);
  writeFileSync(join(dir, 'c.yml'), `title: gamma\ntype: object\nproperties: {}\n`);
  writeFileSync(join(dir, 'd.json'), '{ "title": "delta", ');
  writeFileSync(join(dir, 'e.json'), JSON.stringify(model({ x: { type: 'array' } }, { title: 'epsilon' })));
  writeFileSync(join(dir, 'f.yaml'), 'title: [unclosed\n');
  writeFileSync(join(dir, 'z-dup.json'), good('alpha'));
  writeFileSync(join(dir, 'notes.txt'), 'not a model');
  writeFileSync(join(dir, '.hidden.json'), '{');
  mkdirSync(join(dir, 'sub.json'));
  const extra = join(root, 'extra.model');
  writeFileSync(extra, `title: zeta\ntype: object\nproperties: {}\n`);

  it('loads good files, reports each bad one with its file, and keeps going', () => {
    const { models, errors } = loadModels([dir, extra, join(root, 'missing')]);
    expect([...models.keys()].sort()).toEqual(['alpha', 'beta', 'gamma', 'zeta']);
    expect(models.get('alpha')?.source).toBe(join(dir, 'a.json'));
    expect(models.get('beta')?.properties.get('on')?.type).toBe('boolean');
    const byCode = errors.map((e) => [e.code, e.message.includes(root)]);
    expect(byCode).toEqual([
      ['EDGETWIN_ERR_FILE_READ', true],
      ['EDGETWIN_ERR_MODEL_INVALID', true], // d.json: JSON syntax
      ['EDGETWIN_ERR_MODEL_INVALID', true], // e.json: unsupported type
      ['EDGETWIN_ERR_MODEL_INVALID', true], // f.yaml: YAML syntax
      ['EDGETWIN_ERR_MODEL_DUPLICATE', true],
    ]);
    expect(errors[0]?.message).toContain('missing');
    expect(errors[2]?.message).toContain('/properties/x/type');
    expect(errors[4]?.message).toContain('z-dup.json');
  });

  it('returns nothing and no error for no paths', () => {
    expect(loadModels([])).toEqual({ models: new Map(), errors: [] });
  });
});

describe('BUNDLED_MODELS_DIR', () => {
  it('is the source folder, found from source and from the compiled dist/ alike', () => {
    expect(BUNDLED_MODELS_DIR).toMatch(/[/\\]schemas[/\\]models$/);
    const pkgRoot = join(BUNDLED_MODELS_DIR, '..', '..');
    const fromDist = findBundledModelsDir(pathToFileURL(join(pkgRoot, 'dist', 'schemas', 'models.js')).href);
    expect(fromDist).toBe(BUNDLED_MODELS_DIR);
  });
});
