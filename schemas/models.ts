// Device models: JSON Schema 2020-12 documents (DESIGN.md "Device models are JSON Schema")
// checked against the meta-schema and edgetwin's own rules, then compiled once into a
// DeviceModel whose PropertyModels parse and validate wire values.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { edgetwinError, isEdgetwinError, toEdgetwinError, type EdgetwinError, type ErrorDetail } from '../errors.js';
import { ajvErrorsToDetails, createAjv, escapePointerToken, joinDetails, type Ajv } from './ajv.js';
import { isJsonFile, listSourceFiles, MODEL_EXTENSIONS, readTextFile } from './files.js';
import { DNS1123_SUBDOMAIN, TWIN_KEY } from './names.js';
import type { DeviceModel, JsonSchema, ModelDefaults, PropertyModel, VisitorDefaults } from './types.js';
import { rangeProblems } from './ranges.js';
import { createPropertyModel, kubeTypeOf } from './values.js';

export const JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/** What edgetwin requires of a model beyond being valid JSON Schema. */
// KubeEdge's DMI turns configData values into protobuf Any and fails a nested object or array
// (kubeedge-notes §5.4): protocol defaults are flat scalars, as a Device's are.
const SCALAR = { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } as const;

const MODEL_RULES = {
  type: 'object',
  required: ['title', 'type', 'properties'],
  properties: {
    protocol: { type: 'string', minLength: 1 },
    protocolConfigData: { type: 'object', additionalProperties: SCALAR },
    // Ajv2020 only knows this dialect; another $schema would fail later with a vaguer message.
    $schema: { const: JSON_SCHEMA_2020_12 },
    title: { type: 'string', maxLength: 253, pattern: DNS1123_SUBDOMAIN },
    type: { const: 'object' },
    properties: {
      type: 'object',
      propertyNames: { pattern: TWIN_KEY },
      additionalProperties: {
        type: 'object',
        required: ['type'],
        properties: {
          // KubeEdge property types: INT, FLOAT/DOUBLE, BOOLEAN, STRING/BYTES (not STREAM, no
          // arrays or objects, no type unions).
          type: { enum: ['integer', 'number', 'boolean', 'string'] },
          contentEncoding: { const: 'base64' },
          unit: { type: 'string' },
          // Visitor configData stays free-form, as on a Device (the BLE dataConverter is nested).
          visitors: {
            type: 'object',
            additionalProperties: false,
            properties: { protocolName: { type: 'string', minLength: 1 }, configData: { type: 'object' } },
          },
        },
        // bytes are a base64 string; contentEncoding on any other type means nothing here.
        if: { properties: { contentEncoding: true }, required: ['contentEncoding'] },
        then: { properties: { type: { const: 'string' } } },
      },
    },
  },
} as const;

interface Compilers {
  /** Checks models: meta-schema, rules, strict compile; reports every problem. */
  readonly models: Ajv;
  /** Compiles property validators for the hot path: stops at the first error. */
  readonly values: Ajv;
  readonly rules: ReturnType<Ajv['compile']>;
}

let compilers: Compilers | undefined;

// Built on first use, not at import: creating ajv and compiling the meta-schema costs a few ms
// that a process which never loads a model should not pay. Holds no configuration, so tests never
// need to replace it.
function getCompilers(): Compilers {
  if (!compilers) {
    const models = createAjv({ allErrors: true });
    compilers = { models, values: createAjv({ allErrors: false }), rules: models.compile(MODEL_RULES) };
  }
  return compilers;
}

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * ajv's strict-mode compile errors carry no pointer, only a keyword (`unknown keyword: "units"`,
 * `missing type "number" for keyword "minimum"`, `unknown format "foo"`); point at that keyword
 * when the schema has it.
 */
function compileErrorDetail(err: unknown, at: string, schema: JsonSchema): ErrorDetail {
  const raw = err instanceof Error ? err.message : String(err);
  // The location suffixes are relative to the subschema ajv was given, so they only mislead.
  const message = raw
    .replace(/^strict mode: (.*?)(?: at "[^"]*")?(?: \(\w+\))?$/, '$1 (strict mode)')
    .replace(/ ignored in schema at path "[^"]*"$/, '');
  const keyword = /keyword:? "([^"]+)"/.exec(message)?.[1] ?? (/unknown format/.test(message) ? 'format' : undefined);
  const path = keyword !== undefined && keyword in schema ? `${at}/${escapePointerToken(keyword)}` : at;
  return { path, message };
}

/** Compiles `schema` to check it in strict mode, then drops it from ajv's cache (models reload). */
function strictCompile(ajv: Ajv, schema: JsonSchema): ReturnType<Ajv['compile']> {
  const validate = ajv.compile(schema);
  ajv.removeSchema(schema);
  return validate;
}

function modelInvalid(where: string, details: readonly ErrorDetail[]): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_MODEL_INVALID', `Invalid device model ${where}: ${joinDetails(details)}`, details);
}

/**
 * Checks a model schema and compiles it. Throws EDGETWIN_ERR_MODEL_INVALID whose message names
 * `source` and the JSON pointer of each problem, and whose details list every problem.
 */
export function compileModel(schema: unknown, source?: string): DeviceModel {
  const title = isObject(schema) && typeof schema.title === 'string' ? schema.title : undefined;
  const where = source ?? (title !== undefined ? `"${title}"` : '(inline)');
  if (!isObject(schema)) throw modelInvalid(where, [{ path: '', message: 'must be a JSON Schema object' }]);

  const { models, values, rules } = getCompilers();
  const problems: ErrorDetail[] = [];
  // validateSchema throws on a $schema it does not know; the rules report that one.
  if (schema.$schema === undefined || schema.$schema === JSON_SCHEMA_2020_12) {
    if (!models.validateSchema(schema)) problems.push(...ajvErrorsToDetails(models.errors));
  }
  if (!rules(schema)) {
    const seen = new Set(problems.map((p) => p.path));
    problems.push(...ajvErrorsToDetails(rules.errors).filter((p) => !seen.has(p.path)));
  }
  if (problems.length > 0) throw modelInvalid(where, problems);

  // The rules guarantee these shapes; TypeScript cannot see through ajv.
  const propertySchemas = schema.properties as Record<string, JsonSchema>;
  const names = Object.keys(propertySchemas);

  // Strict mode over the model's own keywords (typos like `units`, a stray `minimum`). Properties
  // are stubbed out (compiled one by one below) and $id dropped so reloading a model never clashes
  // with the copy ajv registered before.
  const { $id: _id, ...rest } = schema;
  try {
    strictCompile(models, { ...rest, properties: Object.fromEntries(names.map((n) => [n, true])) });
  } catch (err) {
    problems.push(compileErrorDetail(err, '', schema));
  }

  const properties = new Map<string, PropertyModel>();
  for (const name of names) {
    const propertySchema = propertySchemas[name] as JsonSchema;
    const at = `/properties/${escapePointerToken(name)}`;
    try {
      const validate = strictCompile(values, propertySchema);
      const empty = rangeProblems(propertySchema, at, validate);
      if (empty.length > 0) {
        problems.push(...empty);
        continue;
      }
      properties.set(name, createPropertyModel({ name, type: kubeTypeOf(propertySchema), schema: propertySchema, validate }));
    } catch (err) {
      problems.push(compileErrorDetail(err, at, propertySchema));
    }
  }
  if (problems.length > 0) throw modelInvalid(where, problems);

  const defaults = modelDefaults(schema, propertySchemas);
  return {
    name: schema.title as string,
    id: typeof schema.$id === 'string' ? schema.$id : undefined,
    description: typeof schema.description === 'string' ? schema.description : undefined,
    properties,
    ...(defaults ? { defaults } : {}),
    schema,
    source,
  };
}

/** The model's protocol defaults (shapes already checked by MODEL_RULES), or undefined if none. */
function modelDefaults(schema: JsonSchema, propertySchemas: Record<string, JsonSchema>): ModelDefaults | undefined {
  const visitors = new Map<string, VisitorDefaults>();
  for (const [name, sub] of Object.entries(propertySchemas)) {
    const v = sub.visitors;
    if (!isObject(v)) continue;
    visitors.set(name, {
      ...(typeof v.protocolName === 'string' ? { protocolName: v.protocolName } : {}),
      configData: isObject(v.configData) ? v.configData : {},
    });
  }
  const protocol = typeof schema.protocol === 'string' ? schema.protocol : undefined;
  const protocolConfigData = isObject(schema.protocolConfigData) ? schema.protocolConfigData : undefined;
  if (protocol === undefined && protocolConfigData === undefined && visitors.size === 0) return undefined;
  return { ...(protocol !== undefined ? { protocol } : {}), ...(protocolConfigData ? { protocolConfigData } : {}), visitors };
}

/** Parses a model file (JSON, or YAML for anything else) without judging its content. */
function readModelFile(file: string): unknown {
  const text = readTextFile(file);
  if (isJsonFile(file)) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw edgetwinError('EDGETWIN_ERR_MODEL_INVALID', `Invalid device model ${file}: not valid JSON: ${message}`, [{ path: '', message }]);
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => ({ path: '', message: e.message }));
    throw edgetwinError('EDGETWIN_ERR_MODEL_INVALID', `Invalid device model ${file}: not valid YAML: ${details[0]?.message ?? ''}`, details);
  }
  return doc.toJS() as unknown;
}

/**
 * Loads every model in `paths` (files, or folders of *.json, *.yaml, *.yml). A bad or unreadable
 * file is reported in `errors` and skipped; a second model with a title already loaded is
 * reported as EDGETWIN_ERR_MODEL_DUPLICATE and the first one kept (so bundled models, listed
 * first, are not silently replaced: disable `bundledModels` to supply your own of the same name).
 */
export function loadModels(paths: readonly string[]): { models: Map<string, DeviceModel>; errors: EdgetwinError[] } {
  const { files, errors } = listSourceFiles(paths, MODEL_EXTENSIONS);
  const models = new Map<string, DeviceModel>();
  for (const file of files) {
    try {
      const model = compileModel(readModelFile(file), file);
      const existing = models.get(model.name);
      if (existing) {
        errors.push(
          edgetwinError(
            'EDGETWIN_ERR_MODEL_DUPLICATE',
            `Device model ${file}: title "${model.name}" is already declared by ${existing.source ?? 'another model'}; ignoring this one`,
            [{ path: '/title', message: `duplicate of ${existing.source ?? model.name}` }],
          ),
        );
        continue;
      }
      models.set(model.name, model);
    } catch (err) {
      errors.push(isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_MODEL_INVALID'));
    }
  }
  return { models, errors };
}

/**
 * Where the bundled models live. From source (schemas/models.ts) that is ./models; from the
 * compiled dist/schemas/models.js it is not, because tsc copies no .json files, so we go up to
 * the package root and back into schemas/models.
 */
export function findBundledModelsDir(moduleUrl: string = import.meta.url): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const candidates = [join(here, 'models'), resolve(here, '..', '..', 'schemas', 'models')];
  return candidates.find((dir) => existsSync(dir)) ?? (candidates[0] as string);
}

/** Absolute path of the folder holding the bundled models (thermostat, power-meter, ...). */
export const BUNDLED_MODELS_DIR: string = findBundledModelsDir();
